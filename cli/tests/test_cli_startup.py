"""The everyday commands do not load the platform: `sextant status` or `webhook send` must
not pay for importing every service and the embedded PostgreSQL (5 s of CPU)."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from sextant.cli.main import app


def test_the_command_module_imports_no_service() -> None:
    probe = (
        "import sys, sextant.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in ("
        "['sextant', 'gateway'], ['sextant', 'ingest'], ['sextant', 'identity'], "
        "['sextant', 'forecast'], ['sextant', 'insights'], ['sextant', 'cli'])))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "sextant.cli.main" in loaded  # the probe saw the modules at all
    for service in ("gateway", "ingest", "identity", "forecast", "insights"):
        assert f"'sextant.{service}" not in loaded, loaded
    assert "sextant.cli.embedded" not in loaded


def test_serve_names_an_unknown_service_without_a_traceback() -> None:
    result = CliRunner().invoke(app, ["serve", "nonesuch"])
    assert result.exit_code == 2
    assert "unknown service 'nonesuch'" in result.output
    assert "Traceback" not in result.output

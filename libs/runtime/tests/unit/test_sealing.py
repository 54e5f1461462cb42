"""Secrets sealed at rest: bound to their row, naming their key so keys rotate, and one key
set for every replica (told with ingest's settings, the first to seal)."""

import base64
import os
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from sextant.runtime.sealing import KeyMissing, KeySettings, SealBroken, SecretBox, key_id_of

# A worked example: this key, nonce and source; the ciphertexts were computed with
# AES-256-GCM directly (cryptography's AESGCM), the associated data written out by hand.
KEY = bytes(range(32))
NONCE = bytes(range(100, 112))
SOURCE = UUID("01890a5d-ac96-774b-bcce-b302099a8057")
# AAD = SOURCE.bytes + b"\x01\x02k1"
SEALED_V1 = b"\x01\x02k1" + NONCE + bytes.fromhex("206eb0121c9b64d798c7e6de66144479567150f13bc1b1")
# Before key ids (marked version 0 by migration 0007): AAD = SOURCE.bytes alone.
SEALED_V0 = b"\x00" + NONCE + bytes.fromhex("206eb0121c9b643cbc5d4c19eb73ab7acace8334376d27")


INGEST = KeySettings(
    "SEXTANT_INGEST_SECRET_KEYS", "SEXTANT_INGEST_SECRET_KEY", "ingest-secrets.key", "ingest"
)


def box_from(
    value: str | None, data_dir: Path, *, shared: bool, keys: str | None = None
) -> SecretBox:
    return SecretBox.from_setting(value, data_dir, shared=shared, keys=keys, names=INGEST)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_the_layout_is_version_key_id_nonce_ciphertext_and_tag() -> None:
    box = SecretBox({"k1": KEY}, "k1", nonces=lambda n: NONCE[:n])
    assert box.seal("hunter2", SOURCE) == SEALED_V1
    assert box.open(SEALED_V1, SOURCE) == "hunter2"
    assert key_id_of(SEALED_V1) == "k1"


def test_values_sealed_before_key_ids_open_with_key_k0() -> None:
    box = box_from(b64(KEY), Path("/nonexistent"), shared=True)
    assert (box.current, key_id_of(SEALED_V0)) == ("k0", "k0")
    assert box.open(SEALED_V0, SOURCE) == "hunter2"


@pytest.mark.parametrize(
    ("tampered", "why"),
    [
        (SEALED_V1[:-1] + bytes([SEALED_V1[-1] ^ 1]), "the tag"),
        (SEALED_V1[:20] + bytes([SEALED_V1[20] ^ 0x80]) + SEALED_V1[21:], "the ciphertext"),
        (SEALED_V1[:6] + bytes([SEALED_V1[6] ^ 1]) + SEALED_V1[7:], "the nonce"),
        (b"\x01\x02k2" + SEALED_V1[4:], "the key id, to another key"),
        (SEALED_V1[:-5], "cut short"),
    ],
)
def test_tampering_is_detected(tampered: bytes, why: str) -> None:
    # k2 is the same key: a key id edited to it still fails, since the header is bound in
    box = SecretBox({"k1": KEY, "k2": KEY}, "k1")
    with pytest.raises(SealBroken, match="does not open with its key"):
        box.open(tampered, SOURCE)


def test_malformed_values_are_refused_before_any_key_is_tried() -> None:
    box = SecretBox({"k1": KEY}, "k1")
    for malformed in (b"", b"\x07" + SEALED_V1[1:], b"\x01\x09k1", b"\x01\x02\xff\xfe" + NONCE):
        with pytest.raises(SealBroken):
            box.open(malformed, SOURCE)


def test_a_sealed_secret_opens_only_for_its_own_source(tmp_path: Path) -> None:
    box = box_from(None, tmp_path, shared=False)
    source, other = uuid4(), uuid4()
    sealed = box.seal("s3cret-value", source)
    assert b"s3cret-value" not in sealed
    assert box.open(sealed, source) == "s3cret-value"
    with pytest.raises(SealBroken, match="does not open"):
        box.open(sealed, other)
    # the embedded key file is kept: the next start opens what this one sealed
    assert box_from(None, tmp_path, shared=False).open(sealed, source)
    assert key_id_of(sealed) == "k0"


def test_keys_rotate_old_values_open_new_ones_use_the_first_key() -> None:
    key_a, key_b = os.urandom(32), os.urandom(32)
    source = uuid4()
    old = box_from(None, Path(), shared=True, keys=f"a:{b64(key_a)}")
    sealed_a = old.seal("token", source)
    rotated = box_from(None, Path(), shared=True, keys=f"b:{b64(key_b)}, a:{b64(key_a)}")
    assert rotated.open(sealed_a, source) == "token"
    assert key_id_of(rotated.seal("token", source)) == "b"
    resealed = rotated.reseal(sealed_a, source)
    assert resealed is not None and key_id_of(resealed) == "b"
    assert rotated.reseal(resealed, source) is None  # already under the current key
    only_b = box_from(None, Path(), shared=True, keys=f"b:{b64(key_b)}")
    assert only_b.open(resealed, source) == "token"
    with pytest.raises(KeyMissing, match="key 'a'") as missing:
        only_b.open(sealed_a, source)
    assert missing.value.key_id == "a"


def test_the_single_key_setting_is_key_k0_beside_the_list(tmp_path: Path) -> None:
    key_0, key_1 = os.urandom(32), os.urandom(32)
    legacy = box_from(b64(key_0), tmp_path, shared=True)
    sealed = legacy.seal("token", SOURCE)
    both = box_from(b64(key_0), tmp_path, shared=True, keys=f"k1:{b64(key_1)}")
    assert (both.current, both.key_ids) == ("k1", ("k1", "k0"))
    assert both.open(sealed, SOURCE) == "token"
    # a rolling rotation's first step: the old key moved into the list, still first
    moved = box_from(None, tmp_path, shared=True, keys=f"k0:{b64(key_0)},k1:{b64(key_1)}")
    assert (moved.current, moved.open(sealed, SOURCE)) == ("k0", "token")
    with pytest.raises(ValueError, match="set one of them"):
        box_from(b64(key_0), tmp_path, shared=True, keys=f"k0:{b64(key_1)}")


def test_the_embedded_key_file_stays_key_k0_after_a_key_list_is_set(tmp_path: Path) -> None:
    sealed = box_from(None, tmp_path, shared=False).seal("token", SOURCE)
    rotated = box_from(None, tmp_path, shared=False, keys=f"k1:{b64(os.urandom(32))}")
    assert (rotated.current, rotated.key_ids) == ("k1", ("k1", "k0"))
    assert rotated.open(sealed, SOURCE) == "token"
    # with a key list and no file yet, none is made
    fresh = tmp_path / "fresh"
    box_from(None, fresh, shared=False, keys=f"k1:{b64(os.urandom(32))}")
    assert not (fresh / "keys").exists()


def test_distributed_replicas_refuse_to_start_without_a_shared_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"SEXTANT_INGEST_SECRET_KEYS .* must be set"):
        box_from(None, tmp_path, shared=True)
    assert not (tmp_path / "keys").exists()
    key = b64(os.urandom(32))
    one, two = (box_from(key, tmp_path / n, shared=True) for n in "ab")
    source = uuid4()
    assert two.open(one.seal("token", source), source) == "token"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("k1", "each entry is id:base64key"),
        ("k 1:AAAA", "each entry is id:base64key"),
        (f"k1:{b64(KEY)},k1:{b64(KEY)}", "key 'k1' appears twice"),
        ("k1:not base64!", r"SEXTANT_INGEST_SECRET_KEYS \(key 'k1'\)"),
        (f"k1:{b64(b'short')}", "key 'k1'.*32 bytes"),
    ],
)
def test_a_malformed_key_list_says_which_entry(keys: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        box_from(None, Path(), shared=True, keys=keys)


def test_a_malformed_key_setting_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SEXTANT_INGEST_SECRET_KEY"):
        box_from("not base64!", tmp_path, shared=False)
    with pytest.raises(ValueError, match="32 bytes"):
        box_from(b64(b"short"), tmp_path, shared=False)


def test_a_service_without_a_single_key_setting_names_only_its_ring() -> None:
    gateway = KeySettings("SEXTANT_GATEWAY_SECRET_KEYS", None, "gateway-secrets.key", "the gateway")
    with pytest.raises(
        ValueError, match=r"^SEXTANT_GATEWAY_SECRET_KEYS must be set when the gateway"
    ):
        SecretBox.from_setting(None, Path(), shared=True, names=gateway)
    ring = SecretBox.from_setting(None, Path(), shared=True, keys=f"g1:{b64(KEY)}", names=gateway)
    with pytest.raises(KeyMissing, match="add it to SEXTANT_GATEWAY_SECRET_KEYS"):
        ring.open(SEALED_V0, SOURCE)

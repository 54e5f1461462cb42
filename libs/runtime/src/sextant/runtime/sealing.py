"""Secrets a service keeps (ingest's source secrets and API credentials, the gateway's
partner-subscription signing secrets) are sealed with AES-256-GCM before they are stored.

Each sealed value names the key that sealed it, so keys rotate: several keys may be
configured at once, new values are sealed with the current one, older values still open
with theirs, and a reseal (``sextant ingest reseal``; the gateway reseals on start) moves
every stored value to the current key, after which an old key can be removed.

The layout (version 1)::

    0x01 | len(key id) (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext | tag (16)

The associated data is the owning row's id (16 bytes) followed by the header (everything
before the nonce), so a sealed value copied onto another row does not open, and neither
does one whose key id was edited. Values ingest sealed before key ids existed were marked
version 0 by its migration 0007 (``0x00 | nonce | ciphertext | tag``, the id alone as
associated data); they open with key ``k0``.

Each service names its settings in a :class:`KeySettings`: a key ring (``id:base64key,...``,
the first current) and, for ingest, the single key of before (key ``k0``); the embedded
mode keeps ``k0`` in a key file under ``<data dir>/keys`` when neither is set.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True)
class KeySettings:
    """The names a service's keys are configured under, for its messages and key file."""

    keys: str  # the key ring's setting, e.g. SEXTANT_INGEST_SECRET_KEYS
    single_key: str | None  # the single-key setting of before (key k0), if the service had one
    key_file: str  # the embedded mode's key file under <data dir>/keys
    service: str  # who seals, as an error names it


NONCE_BYTES = 12
LEGACY = 0x00
VERSION = 0x01
# The key of the single-key setting, of the embedded key file, and of version-0 values.
LEGACY_KEY_ID = "k0"
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class KeyMissing(ValueError):
    """A sealed value names a key this process is not configured with."""

    def __init__(self, key_id: str, setting: str) -> None:
        super().__init__(
            f"a sealed secret names key {key_id!r}, which is not configured (add it to {setting})"
        )
        self.key_id = key_id


class SealBroken(ValueError):
    """A sealed value does not open with the key it names: altered, truncated, or copied
    from another source's row."""


def key_id_of(sealed: bytes) -> str:
    """The id of the key that sealed ``sealed`` (without opening it)."""
    return _split(sealed)[0]


def _split(sealed: bytes) -> tuple[str, bytes, bytes]:
    """(key id, header, the rest: nonce | ciphertext | tag)."""
    if not sealed:
        raise SealBroken("a sealed secret is empty")
    if sealed[0] == LEGACY:
        return LEGACY_KEY_ID, b"", sealed[1:]
    if sealed[0] != VERSION or len(sealed) < 2:
        raise SealBroken(f"a sealed secret has an unknown format (version byte {sealed[0]})")
    end = 2 + sealed[1]
    try:
        key_id = sealed[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise SealBroken("a sealed secret's key id is not ASCII") from None
    if len(sealed) < end or not KEY_ID.fullmatch(key_id):
        raise SealBroken("a sealed secret's key id is cut short or malformed")
    return key_id, sealed[:end], sealed[end:]


class SecretBox:
    """The configured keys, by id; ``current`` seals."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        current: str,
        *,
        nonces: Callable[[int], bytes] = os.urandom,
        setting: str = "the key ring",
    ) -> None:
        for key_id, key in keys.items():
            if not KEY_ID.fullmatch(key_id):
                raise ValueError(f"key id {key_id!r}: letters, digits, '_', '.' or '-', 1-64")
            if len(key) != 32:
                raise ValueError(f"key {key_id!r}: a key must be 32 bytes (base64-encoded)")
        if current not in keys:
            raise ValueError(f"the current key {current!r} is not among the keys")
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current
        self._nonces = nonces
        self._setting = setting

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._aeads)

    @classmethod
    def from_setting(
        cls,
        value: str | None,
        data_dir: Path,
        *,
        shared: bool,
        keys: str | None = None,
        names: KeySettings,
    ) -> SecretBox:
        """The configured keys: ``keys`` (the key ring, the first current) and ``value``
        (the single key of before, key ``k0``, current when ``keys`` is unset); else the
        data dir's key file as ``k0`` (made on first use) — only where one process seals
        and opens (``shared`` False): replicas that each made their own key could not open
        the secrets the others sealed."""
        ring = _parse_keys(names.keys, keys) if keys else {}
        if value and names.single_key:
            if LEGACY_KEY_ID in ring:
                raise ValueError(
                    f"{names.keys} names key {LEGACY_KEY_ID!r}, which is "
                    f"{names.single_key}'s: set one of them"
                )
            ring[LEGACY_KEY_ID] = _decode(names.single_key, value)
        elif shared and not ring:
            either = f"{names.keys} (or {names.single_key})" if names.single_key else names.keys
            raise ValueError(
                f"{either} must be set when {names.service} "
                "runs distributed (SEXTANT_BUS=kafka): every replica must open the "
                "secrets the others sealed"
            )
        elif not shared and LEGACY_KEY_ID not in ring:
            path = data_dir / "keys" / names.key_file
            if not ring and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(base64.b64encode(os.urandom(32)).decode())
            if path.exists():
                ring[LEGACY_KEY_ID] = _decode(str(path), path.read_text().strip())
        return cls(ring, next(iter(ring)), setting=names.keys)

    def seal(self, plaintext: str, bound_to: UUID) -> bytes:
        key_id = self.current.encode("ascii")
        header = bytes((VERSION, len(key_id))) + key_id
        nonce = self._nonces(NONCE_BYTES)
        sealed = self._aeads[self.current].encrypt(
            nonce, plaintext.encode(), bound_to.bytes + header
        )
        return header + nonce + sealed

    def open(self, sealed: bytes, bound_to: UUID) -> str:
        """The plaintext; :class:`KeyMissing` names a key not configured here,
        :class:`SealBroken` says the value does not open with its own key."""
        key_id, header, rest = _split(sealed)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise KeyMissing(key_id, self._setting)
        try:
            return aead.decrypt(
                rest[:NONCE_BYTES], rest[NONCE_BYTES:], bound_to.bytes + header
            ).decode()
        except InvalidTag:
            raise SealBroken(
                f"a sealed secret does not open with its key {key_id!r}: it was altered "
                "or belongs to another source"
            ) from None

    def reseal(self, sealed: bytes, bound_to: UUID) -> bytes | None:
        """``sealed`` sealed again with the current key; None when it already is."""
        if key_id_of(sealed) == self.current:
            return None
        return self.seal(self.open(sealed, bound_to), bound_to)


def _parse_keys(name: str, setting: str) -> dict[str, bytes]:
    """``id:base64key,...`` in order (the first is current); ``name`` is the setting's."""
    ring: dict[str, bytes] = {}
    for item in setting.split(","):
        key_id, colon, encoded = item.strip().partition(":")
        if not colon or not KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"{name}: each entry is id:base64key, the id letters, "
                f"digits, '_', '.' or '-' (got an entry starting {key_id[:8]!r})"
            )
        if key_id in ring:
            raise ValueError(f"{name}: key {key_id!r} appears twice")
        ring[key_id] = _decode(f"{name} (key {key_id!r})", encoded)
    return ring


def _decode(where: str, value: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"{where}: {exc}") from None
    if len(key) != 32:
        raise ValueError(f"{where}: the key must be 32 bytes (base64-encoded)")
    return key

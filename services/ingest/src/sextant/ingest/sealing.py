"""Source secrets and API credentials are sealed with AES-256-GCM before they are stored.

The key comes from ``SEXTANT_INGEST_SECRET_KEY``; the embedded mode keeps one in
``<data dir>/keys/ingest-secrets.key``. The source id is bound in as associated data, so
a sealed secret copied onto another source's row does not open.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the ingest secret key must be 32 bytes (base64-encoded)")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, value: str | None, data_dir: Path, *, shared: bool) -> SecretBox:
        """The configured key, else the data dir's key file (made on first use) — only
        where one process seals and opens (``shared`` False): replicas that each made
        their own key could not open the secrets the others sealed."""
        if value:
            try:
                return cls(base64.b64decode(value, validate=True))
            except ValueError as exc:
                raise ValueError(f"SEXTANT_INGEST_SECRET_KEY: {exc}") from None
        if shared:
            raise ValueError(
                "SEXTANT_INGEST_SECRET_KEY must be set when ingest runs distributed "
                "(SEXTANT_BUS=kafka): every replica must open the secrets the others sealed"
            )
        path = data_dir / "keys" / "ingest-secrets.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(base64.b64encode(os.urandom(32)).decode())
        return cls(base64.b64decode(path.read_text().strip()))

    def seal(self, plaintext: str, bound_to: UUID) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.bytes)

    def open(self, sealed: bytes, bound_to: UUID) -> str:
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to.bytes
            ).decode()
        except InvalidTag:
            raise ValueError("a sealed secret does not open with this key") from None

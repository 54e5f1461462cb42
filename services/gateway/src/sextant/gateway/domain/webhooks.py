"""Outbound webhooks as the Standard Webhooks specification has them: the secret, the
signature, and which answers count as delivered (when to retry is the runtime's
:func:`~sextant.runtime.backoff.retry_delay`). Pure: no clock, no randomness of its own,
no I/O.

A receiver verifies a delivery with its secret alone: ``webhook-signature`` carries
``v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`` under the key the
secret's base64 (after ``whsec_``) encodes; the id stays the same on every retry of one
event, so the receiver can drop a delivery it already has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32  # the HMAC-SHA256 key: as long as the hash, as the specification advises


def new_secret(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh signing secret (``whsec_`` and the base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret encodes."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of one delivery attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks receiver checks, and the body's type."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def delivered(status_code: int) -> bool:
    """A receiver took a delivery when it answered 2xx; anything else is tried again
    (a redirect is not followed: the receiver's URL is the one the tenant set)."""
    return 200 <= status_code < 300

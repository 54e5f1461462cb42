"""Outbound webhooks as the Standard Webhooks specification has them: the secret, the
signature, and when a failed delivery is tried again. Pure: no clock, no randomness of
its own, no I/O.

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


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float, unit: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): exponential
    backoff with full jitter (``unit`` is a uniform draw in [0, 1)), so receivers that
    failed together are not all retried in the same instant when they come back."""
    ceiling = min(cap_seconds, base_seconds * 2.0 ** (attempt - 1))
    return ceiling * unit


def delivered(status_code: int) -> bool:
    """A receiver took a delivery when it answered 2xx; anything else is tried again
    (a redirect is not followed: the receiver's URL is the one the tenant set)."""
    return 200 <= status_code < 300

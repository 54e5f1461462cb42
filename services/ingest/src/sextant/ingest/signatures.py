"""Each tool's webhook authentication, checked on the raw body before anything parses it.

Every comparison is constant-time (:func:`hmac.compare_digest`). A check either returns
the delivery's identity (the tool's delivery id, for deduplication) or raises
:class:`SignatureRejected` with a reason safe to show the sender: it names what is
missing or wrong, never the expected value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sextant.contracts.events.common import SourceKind

STANDARD_WEBHOOKS_PREFIX = "whsec_"


class SignatureRejected(Exception):
    """The delivery is not proven to come from the source; the message says why."""


class InvalidHeader(ValueError):
    """A signed delivery whose id or event header cannot be stored as given (the tools
    sign the body, not these headers); the message names the header."""


# A tool's delivery ids are UUIDs, numbers or short tokens (``msg_…``); the body-hash
# fallback is 71 characters. Bounded and visible ASCII, a delivery id fits the unique
# index on (source, delivery id) and reads safely in logs and notifications.
DELIVERY_ID_MAX = 200
_DELIVERY_ID = re.compile(rf"[!-~]{{1,{DELIVERY_ID_MAX}}}")
EVENT_NAME_MAX = 100
_EVENT_NAME = re.compile(rf"[ -~]{{1,{EVENT_NAME_MAX}}}")  # GitLab's have spaces


def is_event_name(value: str) -> bool:
    """True for a plausible event name: 1-100 printable ASCII characters."""
    return _EVENT_NAME.fullmatch(value) is not None


def _delivery_id(header: str, headers: Mapping[str, str]) -> str | None:
    """The delivery id a header gives (None when absent or empty), or
    :class:`InvalidHeader` when it is not 1-200 visible ASCII characters."""
    value = headers.get(header.lower())
    if not value:
        return None
    if _DELIVERY_ID.fullmatch(value) is None:
        raise InvalidHeader(
            f"the {header} header must be 1-{DELIVERY_ID_MAX} visible ASCII characters"
        )
    return value


def _event(header: str, headers: Mapping[str, str]) -> str | None:
    value = headers.get(header.lower())
    if value is not None and not is_event_name(value):
        raise InvalidHeader(
            f"the {header} header must be 1-{EVENT_NAME_MAX} printable ASCII characters"
        )
    return value


@dataclass(frozen=True)
class Delivery:
    """Who sent what: the tool's delivery id (or a body hash) and its event name."""

    delivery_id: str
    event: str | None


def new_secret(kind: SourceKind) -> str:
    """A fresh secret in the form each scheme expects."""
    if kind == "generic":
        return STANDARD_WEBHOOKS_PREFIX + base64.b64encode(os.urandom(24)).decode()
    return base64.urlsafe_b64encode(os.urandom(30)).decode()


def check_secret_format(kind: SourceKind, secret: str) -> None:
    """Refuse a user-supplied secret the scheme could not use (ValueError says why)."""
    if len(secret) < 16:
        raise ValueError("a webhook secret must be at least 16 characters")
    # generic sources always sign the Standard Webhooks way; a GitLab source does when its
    # secret is a signing token, which must then decode, or every delivery would fail
    if kind == "generic" or secret.startswith(STANDARD_WEBHOOKS_PREFIX):
        _standard_webhooks_key(secret)


def verify(
    kind: SourceKind,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    replay_window: int = 300,
) -> Delivery:
    """Authenticate one delivery by its source's scheme (``headers`` keys in lower case)."""
    return _VERIFIERS[kind](secret, headers, body, now, replay_window)


def _hex_hmac_header(header: str, value: str | None, secret: str, body: bytes) -> None:
    if not value:
        raise SignatureRejected(f"the {header} header is missing")
    scheme, _, given = value.partition("=")
    if scheme != "sha256" or not given:
        raise SignatureRejected(f"the {header} header must be 'sha256=<hex digest>'")
    expected = hmac.digest(secret.encode(), body, "sha256").hex()  # one-shot: no HMAC object
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureRejected(f"the {header} signature does not match the body")


def _github(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: int
) -> Delivery:
    _hex_hmac_header("X-Hub-Signature-256", headers.get("x-hub-signature-256"), secret, body)
    delivery = _delivery_id("X-GitHub-Delivery", headers) or _body_hash(body)
    return Delivery(delivery, _event("X-GitHub-Event", headers))


def _gitlab(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: int
) -> Delivery:
    """A ``whsec_`` secret is a GitLab *signing token*: the body is signed the Standard
    Webhooks way and nothing less is accepted. Any other secret is the classic
    ``X-Gitlab-Token``, which proves the sender knows the secret but does not cover the
    body (GitLab's design; prefer a signing token where the GitLab version has it)."""
    if secret.startswith(STANDARD_WEBHOOKS_PREFIX):
        signed = _standard_webhooks(secret, headers, body, now, window)
        return Delivery(signed.delivery_id, _event("X-Gitlab-Event", headers))
    token = headers.get("x-gitlab-token")
    if not token:
        raise SignatureRejected("the X-Gitlab-Token header is missing")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise SignatureRejected("the X-Gitlab-Token header does not match the source's secret")
    # Idempotency-Key stays the same across GitLab's retries; the event UUID is the fallback.
    delivery = (
        _delivery_id("Idempotency-Key", headers)
        or _delivery_id("X-Gitlab-Event-UUID", headers)
        or _body_hash(body)
    )
    return Delivery(delivery, _event("X-Gitlab-Event", headers))


def _jira(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: int
) -> Delivery:
    _hex_hmac_header("X-Hub-Signature", headers.get("x-hub-signature"), secret, body)
    # Jira names the event only in the body; the identifier is stable across its retries.
    delivery = _delivery_id("X-Atlassian-Webhook-Identifier", headers) or _body_hash(body)
    return Delivery(delivery, None)


_SIGNATURE = re.compile(r"^v1,([A-Za-z0-9+/]+={0,2})$")
_SECONDS = re.compile(r"[0-9]{1,12}")


def _standard_webhooks(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window: int
) -> Delivery:
    """https://www.standardwebhooks.com: HMAC-SHA256 over ``id.timestamp.body``, base64,
    ``v1,`` prefixed, several space-separated signatures allowed (key rotation)."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    for name, value in (
        ("webhook-id", message_id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signatures),
    ):
        if not value:
            raise SignatureRejected(f"the {name} header is missing")
    assert message_id and timestamp and signatures
    if _SECONDS.fullmatch(timestamp) is None:  # not str.isdigit: it takes "²" and "٣"
        raise SignatureRejected("webhook-timestamp must be whole seconds since the epoch")
    if abs(now - int(timestamp)) > window:
        raise SignatureRejected(
            f"webhook-timestamp is more than {window} s from the server's clock"
        )
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = hmac.digest(_standard_webhooks_key(secret), signed, "sha256")
    for candidate in signatures.split(" "):
        match = _SIGNATURE.match(candidate)
        if match is None:
            continue
        try:
            given = base64.b64decode(match.group(1), validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(given, expected):
            # signed, but checked all the same: a Standard Webhooks sender chooses its ids
            return Delivery(_delivery_id("webhook-id", headers) or message_id, None)
    raise SignatureRejected("no webhook-signature matches the body")


def _standard_webhooks_key(secret: str) -> bytes:
    if not secret.startswith(STANDARD_WEBHOOKS_PREFIX):
        raise ValueError("a generic source's secret must look like 'whsec_<base64>'")
    try:
        key = base64.b64decode(secret.removeprefix(STANDARD_WEBHOOKS_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a signing secret must be 'whsec_' + base64") from None
    if len(key) < 16:
        raise ValueError("a signing secret must hold at least 16 bytes after 'whsec_'")
    return key


def _body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


_VERIFIERS: dict[str, Callable[[str, Mapping[str, str], bytes, float, int], Delivery]] = {
    "github": _github,
    "gitlab": _gitlab,
    "jira": _jira,
    "generic": _standard_webhooks,
}

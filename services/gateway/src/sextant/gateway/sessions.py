"""Browser sessions for the web portal: a cookie the gateway issues, accepted as the
caller of ``/v1`` requests that carry no ``Authorization`` header.

- The cookie is opaque: 256 random bits; the database keeps only their SHA-256 with the
  caller's subject, role, tenant and expiry (``SEXTANT_GATEWAY_SESSION_TTL_SECONDS``),
  so sign-out ends a session on every replica at once.
- It is ``HttpOnly`` and ``SameSite=Strict``, and over https ``Secure`` with the
  ``__Host-`` prefix (no subdomain can set or shadow it).
- CSRF: a cookie-authenticated write (any method but GET, HEAD, OPTIONS) must carry
  ``X-CSRF-Token``, a token derived from the session (an HMAC keyed by the cookie) that
  ``GET /v1/session`` hands to the page — a synchronizer token that needs no storage.
  A page on another origin can neither read the cookie nor ask for the token. A write
  whose ``Origin`` is not the gateway's own is refused too.
- The notifications WebSocket accepts the cookie too (a page cannot set headers on a
  WebSocket); its handshake must carry the gateway's own ``Origin``.
- Bearer tokens and API keys are untouched: a request with ``Authorization`` is judged
  by it alone, and the cookie is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

from starlette.requests import HTTPConnection
from starlette.responses import Response

from sextant.gateway.authn import ROLES, LocalIssuer, Principal, PublicRole
from sextant.gateway.db import sessions as store
from sextant.runtime.db import Database
from sextant.runtime.errors import Conflict, Forbidden, Unauthenticated

COOKIE = "sextant_session"
SECURE_COOKIE = "__Host-sextant_session"  # over https: Secure, Path=/, no Domain
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _digest(cookie: str) -> bytes:
    return hashlib.sha256(cookie.encode()).digest()


def csrf_token(cookie: str) -> str:
    """The session's CSRF token: only someone holding the cookie can compute it."""
    mac = hmac.new(cookie.encode(), b"sextant-csrf-v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def session_cookie(connection: HTTPConnection) -> str | None:
    """The session cookie a request carries, if any."""
    return connection.cookies.get(SECURE_COOKIE) or connection.cookies.get(COOKIE)


def _own_origin(connection: HTTPConnection) -> str:
    url = connection.url
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)  # a WebSocket's page
    return f"{scheme}://{url.netloc}"


def check_csrf(connection: HTTPConnection, method: str, cookie: str) -> None:
    """403 for a cookie-authenticated write without the session's token, or from
    another origin."""
    if method in SAFE_METHODS:
        return
    origin = connection.headers.get("origin")
    if origin is not None and origin != _own_origin(connection):
        raise Forbidden(f"a signed-in write must come from {_own_origin(connection)}")
    sent = connection.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(cookie).encode()):
        raise Forbidden(
            "a write signed in by cookie needs the X-CSRF-Token header "
            "(its value is in GET /v1/session)"
        )


def check_stream_origin(connection: HTTPConnection) -> None:
    """403 for a cookie-authenticated WebSocket from another origin. A page cannot set a
    header on a WebSocket (no CSRF token), but the browser always sends ``Origin``: a
    page elsewhere must not open the portal's stream with its user's cookie."""
    origin = connection.headers.get("origin")
    if origin != _own_origin(connection):
        raise Forbidden(f"a signed-in stream must come from {_own_origin(connection)}")


async def session_principal(db: Database, cookie: str, now: datetime) -> Principal:
    """The caller a session cookie stands for; 401 when it is unknown, expired or ended."""
    async with db.transaction() as session:
        row = await store.live_session(session, _digest(cookie), now)
    if row is None:
        raise Unauthenticated("the session has expired or ended: sign in again")
    return Principal(row.subject, cast(PublicRole, row.role), row.tenant_id, "session")


async def session_expiry(db: Database, cookie: str, now: datetime) -> datetime:
    async with db.transaction() as session:
        row = await store.live_session(session, _digest(cookie), now)
    if row is None:
        raise Unauthenticated("the session has expired or ended: sign in again")
    return row.expires_at


async def open_session_from_link(
    db: Database, issuer: LocalIssuer, code: str, ttl_seconds: int
) -> tuple[str, Principal, datetime]:
    """Spend a one-time sign-in link's code on a new session: (cookie, caller, expiry).
    409 when the link was used already."""
    claims = issuer.sign_in_claims(code)
    role = claims.get("sextant_role")
    if role not in ROLES:
        raise Forbidden("the sign-in link names no Sextant role")
    tenant = claims.get("sextant_tenant")
    try:
        tenant_id = UUID(str(tenant)) if tenant is not None else None
    except ValueError:
        raise Forbidden("the sign-in link's tenant is not a tenant id") from None
    if role != "platform_admin" and tenant_id is None:
        raise Forbidden(f"a {role} sign-in link must name its tenant")
    caller = Principal(str(claims["sub"]), cast(PublicRole, role), tenant_id, "session")
    link_expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    cookie, expires_at = await open_session(
        db, caller, ttl_seconds, link_jti=str(claims["jti"]), link_expires_at=link_expires_at
    )
    return cookie, caller, expires_at


async def open_session(
    db: Database,
    caller: Principal,
    ttl_seconds: int,
    *,
    link_jti: str | None = None,
    link_expires_at: datetime | None = None,
) -> tuple[str, datetime]:
    """A new session for a caller whose sign-in was verified: (cookie, expiry). 409 when
    it spends a sign-in link (``link_jti``) that was used already."""
    now = datetime.now(UTC)
    cookie = secrets.token_urlsafe(32)
    row = store.BrowserSessionRow(
        id_sha256=_digest(cookie),
        subject=caller.subject,
        role=caller.role,
        tenant_id=caller.tenant_id,
        link_jti=link_jti,
        link_expires_at=link_expires_at,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    async with db.transaction() as session:
        await store.forget_expired(session, now)
        if not await store.create_session(session, row):
            raise Conflict("this sign-in link was used already: each opens one session")
    return cookie, row.expires_at


async def end_session(db: Database, cookie: str) -> None:
    async with db.transaction() as session:
        await store.end_session(session, _digest(cookie), datetime.now(UTC))


def set_session_cookie(
    response: Response, connection: HTTPConnection, cookie: str, max_age: int
) -> None:
    secure = connection.url.scheme == "https"
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        cookie,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, connection: HTTPConnection) -> None:
    secure = connection.url.scheme == "https"
    response.delete_cookie(
        SECURE_COOKIE if secure else COOKIE,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )

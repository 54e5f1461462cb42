"""Who may call a gateway route: authentication, rate limits, roles, tenant scoping.

Every public route (the gateway's own and the ones it passes on) depends on
:func:`principal`; a route names the roles that may call it with :func:`allow`. A
platform admin's token names no tenant: it acts on one only through the explicit
cross-tenant paths ``/v1/tenants/{tenant_id}/…`` (see :class:`CrossTenantPaths`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sextant.gateway.authn import (
    API_KEY_PREFIX,
    Authenticator,
    LocalIssuer,
    Principal,
    PublicRole,
)
from sextant.gateway.domain.cache import TtlCache
from sextant.gateway.domain.limits import TokenBuckets, retry_after_header
from sextant.gateway.sessions import (
    check_csrf,
    check_stream_origin,
    session_cookie,
    session_principal,
)
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceState, service_state
from sextant.runtime.db import Database
from sextant.runtime.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated, problem
from sextant.runtime.logging import bind_request_context
from sextant.runtime.tokens import InternalTokenSigner

ACTING_TENANT = "acting_tenant"
TENANT_OWN_SEGMENTS = frozenset({"restore"})  # /v1/tenants/{id}/restore is the tenant's own


@dataclass
class Gateway:
    """What the gateway's routes need, built in its lifespan."""

    settings: GatewaySettings
    authenticator: Authenticator
    local_issuer: LocalIssuer | None
    signer: InternalTokenSigner
    upstreams: Upstreams
    tenant_buckets: TokenBuckets
    key_buckets: TokenBuckets
    # Rate limits for callers not (yet) known: failures per client address (charged after
    # a failure, checked before any work), platform admins per subject, webhooks per source.
    anonymous_buckets: TokenBuckets
    admin_buckets: TokenBuckets
    source_buckets: TokenBuckets
    scopes: TtlCache[tuple[UUID, str], list[UUID]]  # (tenant, scope) → live workspaces


def gateway_of(state: ServiceState) -> Gateway:
    gateway: Gateway = state.extras["gateway"]
    return gateway


class CrossTenantPaths:
    """``/v1/tenants/{id}/<rest>`` is ``/v1/<rest>`` acted on as tenant ``id``: the one
    way a platform admin reaches a tenant's data, explicit in the path (and the audit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            parts = scope["path"].split("/")
            # ['', 'v1', 'tenants', '<id>', '<rest>', ...]
            if (
                len(parts) > 4
                and parts[1:3] == ["v1", "tenants"]
                and parts[4] not in TENANT_OWN_SEGMENTS
            ):
                try:
                    tenant = UUID(parts[3])
                except ValueError:
                    tenant = None
                if tenant is not None:
                    raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
                    raw_parts = raw.split(b"/")
                    scope = dict(scope)
                    scope["path"] = "/" + "/".join(["v1", *parts[4:]])
                    scope["raw_path"] = b"/".join([b"", b"v1", *raw_parts[4:]])
                    scope.setdefault("state", {})
                    scope["state"] = {**scope["state"], ACTING_TENANT: tenant}
        await self.app(scope, receive, send)


class BodyLimit:
    """Public API bodies up to ``limit`` bytes (webhooks follow ingest's own limit).

    A declared Content-Length over it is answered 413 at once. A chunked body is counted
    as it is read: past the limit the app is told the client left, and whatever it
    answers is replaced by the same 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def _too_large(self) -> JSONResponse:
        return problem(
            413,
            "Payload too large",
            f"request bodies are limited to {self.limit} bytes",
            type_slug="payload-too-large",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/hooks/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large()(scope, receive, send)
            return
        seen, over, answered = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                over = True
                return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if over:
                if not answered:
                    answered = True
                    await self._too_large()(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not answered:
            await self._too_large()(scope, receive, send)


def client_address(scope: Scope, trusted_proxies: int) -> str:
    """The caller's address: the peer's, or with ``trusted_proxies`` proxies in front the
    address the outermost of them saw (X-Forwarded-For, read from the right, so a client
    cannot name itself by adding entries on the left)."""
    peer = scope.get("client")
    chain = [str(peer[0]) if peer else "unknown"]
    if trusted_proxies > 0:
        forwarded = [
            value.decode("latin-1")
            for name, value in scope.get("headers", [])
            if name.lower() == b"x-forwarded-for"
        ]
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        chain = hops + chain
        return chain[max(0, len(chain) - 1 - trusted_proxies)]
    return chain[0]


def refuse_if_failing(gateway: Gateway, caller: str, now: float) -> None:
    """429 before any work for a caller — an address, or a webhook source from an
    address — whose failures (bad credentials or signatures, unknown webhook sources,
    too-slow uploads) used up its allowance."""
    wait = gateway.anonymous_buckets.wait(caller, now)
    if wait > 0:
        raise TooManyRequests(
            "too many failed requests from this address (bad credentials or signatures, "
            "unknown webhook sources or too-slow uploads); retry later",
            retry_after=int(retry_after_header(wait)),
        )


async def principal(request: Request) -> Principal:
    """The verified caller of a route, rate limited per tenant, per API key and per
    platform admin (see :func:`authenticated` for callers that fail)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    state = service_state(request)
    gateway = gateway_of(state)
    authorization = request.headers.get("authorization")
    cookie = None if authorization else session_cookie(request)
    if cookie is not None:
        caller = await signed_in(gateway, state.db, request, cookie)
    else:
        caller = await authenticated(gateway, request.scope, authorization)
    acting: UUID | None = getattr(request.state, ACTING_TENANT, None)
    if acting is not None:
        if caller.role != "platform_admin":
            raise Forbidden("only a platform admin acts through /v1/tenants/{id}/…")
        if not await gateway.authenticator.tenant_active(acting):
            raise NotFound(f"no tenant {acting}")
        caller = replace(caller, tenant_id=acting)
    rate_limit(gateway, caller)
    request.state.principal = caller
    bind_request_context(tenant_id=str(caller.tenant_id) if caller.tenant_id else None)
    return caller


async def authenticated(gateway: Gateway, scope: Scope, authorization: str | None) -> Principal:
    """The caller ``authorization`` names, for a route or a WebSocket.

    Callers that fail to authenticate are limited per client address. Once an address has
    spent its allowance, an API key or a missing credential is refused before it costs a
    lookup; a JWT is still verified (a signature check, no lookup before it holds), so
    the people behind a shared address who sign in keep working while the address's
    bad credentials get 429."""
    address = client_address(scope, gateway.settings.trusted_proxies)
    scheme, _, credential = (authorization or "").partition(" ")
    jwt = scheme.lower() == "bearer" and not credential.strip().startswith(API_KEY_PREFIX)
    over = gateway.anonymous_buckets.wait(address, time.monotonic()) > 0
    if over and not jwt:
        refuse_if_failing(gateway, address, time.monotonic())
    try:
        return await gateway.authenticator.authenticate(authorization)
    except Unauthenticated:
        gateway.anonymous_buckets.charge(address, time.monotonic())
        if over:
            refuse_if_failing(gateway, address, time.monotonic())
        raise


async def signed_in(
    gateway: Gateway, db: Database, request: HTTPConnection, cookie: str
) -> Principal:
    """The caller a browser's session cookie stands for (no ``Authorization`` sent), its
    writes checked for the CSRF token (a WebSocket for its origin); an unknown cookie
    counts as a failed sign-in."""
    address = client_address(request.scope, gateway.settings.trusted_proxies)
    refuse_if_failing(gateway, address, time.monotonic())
    try:
        caller = await session_principal(db, cookie, datetime.now(UTC))
    except Unauthenticated:
        gateway.anonymous_buckets.charge(address, time.monotonic())
        raise
    if request.scope["type"] == "websocket":
        check_stream_origin(request)
    else:
        check_csrf(request, request.scope["method"], cookie)
    if caller.tenant_id is not None and not await gateway.authenticator.tenant_active(
        caller.tenant_id
    ):
        raise Forbidden("the session's tenant does not exist or is deleted")
    return caller


def rate_limit(gateway: Gateway, caller: Principal) -> None:
    """429 once the caller's tenant, API key or platform-admin subject is over its rate."""
    now = time.monotonic()
    waits = []
    if caller.tenant_id is not None:
        waits.append(gateway.tenant_buckets.take(str(caller.tenant_id), now))
    if caller.key_id is not None:
        waits.append(gateway.key_buckets.take(caller.key_id, now))
    if caller.role == "platform_admin":
        waits.append(gateway.admin_buckets.take(caller.subject, now))
    wait = max(waits, default=0.0)
    if wait > 0:
        raise TooManyRequests(
            "rate limit reached for this tenant, API key or platform admin; retry later",
            retry_after=int(retry_after_header(wait)),
        )


CurrentPrincipal = Annotated[Principal, Depends(principal)]


async def tenant_session(request: Request, caller: CurrentPrincipal) -> AsyncIterator[AsyncSession]:
    """One transaction per request, RLS-scoped to the caller's tenant (none for a platform
    admin's own routes, which touch only the tenants table)."""
    state = service_state(request)
    async with state.db.transaction(caller.tenant_id) as session:
        yield session


# scope="function": committed before the reply is sent, so a 2xx means it is stored.
TenantSession = Annotated[AsyncSession, Depends(tenant_session, scope="function")]


def allow(*roles: PublicRole) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets through only callers holding one of ``roles``."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        caller = await principal(request)
        if caller.role not in allowed:
            raise Forbidden(
                f"role '{caller.role}' may not do this; it needs one of: {', '.join(sorted(allowed))}"
            )
        return caller

    return dependency


# The 403 a newcomer meets first, with the platform-admin token `sextant run` prints: it
# says what each kind of role is for and how to get the one that is needed.
PLATFORM_ADMIN_HOLDS_NO_TENANT = (
    "this token is a platform admin's: it manages tenants (/v1/tenants) and belongs to none. "
    "Workspaces, sources and everything else in a tenant need a token with a tenant role "
    "(tenant_admin, manager, member or partner): make a tenant admin's with "
    "`sextant token create --role tenant_admin --tenant <tenant id>`, "
    "or act on one tenant as platform admin through /v1/tenants/{tenant_id}/…"
)


def tenant_of(caller: Principal) -> UUID:
    """The tenant a tenant-scoped route acts on."""
    if caller.tenant_id is None:
        raise Forbidden(PLATFORM_ADMIN_HOLDS_NO_TENANT)
    return caller.tenant_id

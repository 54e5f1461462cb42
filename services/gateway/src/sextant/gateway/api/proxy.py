"""Every other public path goes to the service that owns it (:mod:`domain.routes`).

Before a call leaves: the caller is authenticated and rate limited; a workspace in the
path and a ``?scope=`` are checked against the caller's tenant (a view is expanded to
its live workspaces); the body is read (within the edge's size limit). The call carries a
short-lived internal token naming tenant, role, subject and the resolved workspaces;
the service decides, by role, whether the caller may do what it asks."""

from __future__ import annotations

import time
from uuid import UUID

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from sextant.gateway import service
from sextant.gateway.access import (
    PLATFORM_ADMIN_HOLDS_NO_TENANT,
    CurrentPrincipal,
    gateway_of,
    tenant_of,
)
from sextant.gateway.domain.routes import encoded_path, path_segments, route_for
from sextant.runtime.app import ServiceState, State
from sextant.runtime.errors import Forbidden, InvalidInput, NotFound

router = APIRouter()

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route("/v1/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(path: str, request: Request, caller: CurrentPrincipal, state: State) -> Response:
    # The raw path, so an encoded "/" or ".." cannot hide in one segment (httpx's ASGI
    # transport puts the query string in raw_path too; servers do not).
    raw = (request.scope.get("raw_path") or b"").decode("latin-1").split("?", 1)[0]
    raw_path = raw or request.url.path
    segments = path_segments(raw_path)
    match = route_for(segments) if segments is not None else None
    if segments is None or match is None:
        allowed = _own_methods(request)
        if allowed:
            raise HTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path[:200]!r}; "
                f"it allows {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise NotFound(f"no route {request.method} {request.url.path[:200]!r}")
    request.scope["sextant.route"] = match.pattern  # the metrics' and span's route label
    gateway = gateway_of(state)
    scope = request.query_params.getlist("scope")
    if len(scope) > 1:
        raise InvalidInput("give one scope")
    as_platform = caller.tenant_id is None and caller.role == "platform_admin" and match.platform
    if as_platform and (scope or "workspace_id" in match.params):
        raise Forbidden(PLATFORM_ADMIN_HOLDS_NO_TENANT)  # a scope is always some tenant's
    tenant = None if as_platform else tenant_of(caller)
    body = await request.body()  # within the edge's BodyLimit
    workspaces = None
    if tenant is not None:
        if "workspace_id" in match.params:
            await _covered(state, tenant, f"workspace:{match.params['workspace_id']}")
        workspaces = await _covered(state, tenant, scope[0]) if scope else None
    token = gateway.signer.mint(
        service=match.service,
        subject=caller.subject,
        role=caller.role,
        tenant_id=tenant,
        scope_workspaces=workspaces,
    )
    return await gateway.upstreams.forward(
        match.service,
        request,
        encoded_path(segments),
        key=str(tenant) if tenant is not None else "platform",
        authorization=f"Bearer {token}",
        body=body,
    )


def _own_methods(request: Request) -> list[str]:
    """The methods the gateway's own routes answer on this path, as its OpenAPI document
    lists them (this catch-all takes their paths for any other method, so the router's
    own 405 never comes)."""
    allowed: set[str] = set()
    for template, item in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            allowed |= {method.upper() for method in item if method.upper() in METHODS}
    return sorted(allowed)


async def _covered(state: ServiceState, tenant: UUID, scope: str) -> list[UUID]:
    """The live workspaces ``scope`` covers for ``tenant`` (404 when it is not theirs),
    remembered for a moment; a soft delete drops it on every replica at once."""
    cache = gateway_of(state).scopes
    now = time.monotonic()
    known = cache.get((tenant, scope), now)
    if known is not None:
        return known
    epoch = cache.epoch  # a deletion during the lookup: its answer is not kept
    async with state.db.transaction(tenant) as session:
        workspaces = await service.scope_workspaces(session, tenant, scope)
    cache.put((tenant, scope), workspaces, now, epoch=epoch)
    return workspaces

"""Every other public path goes to the service that owns it (:mod:`domain.routes`).

Before a call leaves: the caller is authenticated and rate limited; a workspace in the
path and a ``?scope=`` are checked against the caller's tenant (a view is expanded to
its live workspaces); the body is read (within the edge's size limit). The call carries a
short-lived internal token naming tenant, role, subject and the resolved workspaces;
the service decides, by role, whether the caller may do what it asks."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from sextant.gateway import service
from sextant.gateway.access import CurrentPrincipal, gateway_of, tenant_of
from sextant.gateway.domain.routes import route_for
from sextant.runtime.app import State
from sextant.runtime.errors import InvalidInput, NotFound

router = APIRouter()

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route("/v1/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(path: str, request: Request, caller: CurrentPrincipal, state: State) -> Response:
    match = route_for(request.url.path)
    if match is None:
        raise NotFound(f"no route {request.method} {request.url.path}")
    gateway = gateway_of(state)
    tenant = tenant_of(caller)
    scope = request.query_params.getlist("scope")
    if len(scope) > 1:
        raise InvalidInput("give one scope")
    body = await request.body()  # within the edge's BodyLimit
    async with state.db.transaction(tenant) as session:
        if "workspace_id" in match.params:
            try:
                workspace = UUID(match.params["workspace_id"])
            except ValueError:
                raise InvalidInput(
                    f"{match.params['workspace_id']!r} is not a workspace id"
                ) from None
            await service.live_workspace(session, tenant, workspace)
        workspaces = await service.scope_workspaces(session, tenant, scope[0]) if scope else None
    token = gateway.signer.mint(
        service=match.service,
        subject=caller.subject,
        role=caller.role,
        tenant_id=tenant,
        scope_workspaces=workspaces,
    )
    return await gateway.upstreams.forward(
        match.service, request, request.url.path, authorization=f"Bearer {token}", body=body
    )

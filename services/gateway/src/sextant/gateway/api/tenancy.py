"""Tenants (platform admins), workspaces and views (a tenant's admins; others read)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from sextant.gateway import service
from sextant.gateway.access import (
    TenantSession,
    allow,
    gateway_of,
    tenant_of,
)
from sextant.gateway.authn import ROLES, Principal
from sextant.gateway.db import repository
from sextant.gateway.db.repository import TenantRow, ViewRow, WorkspaceRow
from sextant.gateway.revocation import Revoked, deleting
from sextant.gateway.schemas import (
    NameBody,
    Page,
    TenantReply,
    ViewChange,
    ViewCreate,
    ViewReply,
    WorkspaceReply,
)
from sextant.runtime.app import State
from sextant.runtime.errors import NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, next_cursor

router = APIRouter(prefix="/v1", tags=["tenancy"])

PlatformAdmin = Annotated[Principal, Depends(allow("platform_admin"))]
TenantAdmin = Annotated[Principal, Depends(allow("tenant_admin", "platform_admin"))]
Reader = Annotated[Principal, Depends(allow(*ROLES))]
TenantId = Annotated[UUID, Path(description="the tenant's id")]
WorkspaceId = Annotated[UUID, Path(description="the workspace's id")]
ViewId = Annotated[UUID, Path(description="the view's id")]
PAST_GRACE: dict[int | str, dict[str, Any]] = {
    410: problem_response("its grace period is over: it can no longer be restored")
}


def _tenant(row: TenantRow) -> TenantReply:
    return TenantReply(**row.__dict__)


def _workspace(row: WorkspaceRow) -> WorkspaceReply:
    return WorkspaceReply(**row.__dict__)


def _view(row: ViewRow) -> ViewReply:
    return ViewReply(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        workspace_ids=row.workspace_ids,
        created_at=row.created_at,
    )


def _scopes_changed(state: State) -> None:
    """A workspace or view changed here: this replica forgets resolved scopes at once
    (the others within the cache's lifetime)."""
    gateway_of(state).scopes.clear()


# tenants --------------------------------------------------------------------------------


@router.post("/tenants", status_code=201, response_model=TenantReply, summary="Create a tenant")
async def create_tenant(
    body: NameBody, caller: PlatformAdmin, session: TenantSession, state: State
) -> TenantReply:
    """A new, empty tenant; platform admins only. Its admins then create its workspaces (a
    tenant admin token names the tenant)."""
    return _tenant(await service.create_tenant(session, state.outbox, body.name, caller.subject))


@router.get("/tenants", response_model=Page[TenantReply], summary="Every tenant")
async def list_tenants(
    caller: PlatformAdmin,
    session: TenantSession,
    include_deleted: Annotated[bool, Query(description="also those soft-deleted")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[TenantReply]:
    """Every tenant of the platform, oldest first, a page at a time; platform admins only."""
    rows = await repository.list_tenants(
        session, include_deleted=include_deleted, after=after_id(cursor), limit=limit
    )
    return Page[TenantReply](
        items=[_tenant(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )


@router.get("/tenants/{tenant_id}", response_model=TenantReply, summary="One tenant")
async def get_tenant(
    tenant_id: TenantId, caller: PlatformAdmin, session: TenantSession
) -> TenantReply:
    """One tenant, soft-deleted or not; platform admins only."""
    row = await repository.get_tenant(session, tenant_id)
    if row is None:
        raise NotFound(f"no tenant {tenant_id}")
    return _tenant(row)


@router.delete(
    "/tenants/{tenant_id}",
    response_model=TenantReply,
    summary="Soft-delete a tenant: hidden everywhere, restorable within the grace period",
)
async def delete_tenant(tenant_id: TenantId, caller: PlatformAdmin, state: State) -> TenantReply:
    """Its keys, tokens, streams and webhooks are refused on every replica on return."""
    grace_days = gateway_of(state).settings.soft_delete_grace_days
    async with deleting(state, tenant_id, None, caller.subject) as change:
        row = await service.delete_tenant(
            change.session, state.outbox, tenant_id, caller.subject, grace_days
        )
        await change.revoke(Revoked("tenant", tenant_id))
    return _tenant(row)


@router.post(
    "/tenants/{tenant_id}/restore",
    response_model=TenantReply,
    summary="Undo a soft delete",
    responses=PAST_GRACE,
)
async def restore_tenant(
    tenant_id: TenantId, caller: PlatformAdmin, session: TenantSession, state: State
) -> TenantReply:
    """Brings a soft-deleted tenant back, keys and tokens working again, within the grace period."""
    row = await service.restore_tenant(session, state.outbox, tenant_id, caller.subject)
    gateway_of(state).authenticator.forget_tenant(tenant_id)
    return _tenant(row)


# workspaces -----------------------------------------------------------------------------


@router.post(
    "/workspaces", status_code=201, response_model=WorkspaceReply, summary="Create a workspace"
)
async def create_workspace(
    body: NameBody, caller: TenantAdmin, session: TenantSession, state: State
) -> WorkspaceReply:
    """A workspace of the caller's tenant: the unit sources feed and forecasts are scoped to
    (?scope=workspace:<id>). Tenant admins only."""
    row = await service.create_workspace(
        session, state.outbox, tenant_of(caller), body.name, caller.subject
    )
    return _workspace(row)


@router.get("/workspaces", response_model=Page[WorkspaceReply], summary="The tenant's workspaces")
async def list_workspaces(
    caller: Reader,
    session: TenantSession,
    include_deleted: Annotated[
        bool, Query(description="tenant admins only: also those soft-deleted")
    ] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[WorkspaceReply]:
    """The workspaces of the caller's tenant, oldest first, a page at a time."""
    if include_deleted and caller.role not in ("tenant_admin", "platform_admin"):
        include_deleted = False
    rows = await repository.list_workspaces(
        session,
        tenant_of(caller),
        include_deleted=include_deleted,
        after=after_id(cursor),
        limit=limit,
    )
    return Page[WorkspaceReply](
        items=[_workspace(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceReply, summary="One workspace")
async def get_workspace(
    workspace_id: WorkspaceId, caller: Reader, session: TenantSession
) -> WorkspaceReply:
    """One live workspace of the caller's tenant."""
    return _workspace(await service.live_workspace(session, tenant_of(caller), workspace_id))


@router.patch("/workspaces/{workspace_id}", response_model=WorkspaceReply, summary="Rename")
async def rename_workspace(
    workspace_id: WorkspaceId,
    body: NameBody,
    caller: TenantAdmin,
    session: TenantSession,
    state: State,
) -> WorkspaceReply:
    """Renames a workspace; its id, sources and data stay as they are."""
    row = await service.rename_workspace(
        session, state.outbox, tenant_of(caller), workspace_id, body.name, caller.subject
    )
    return _workspace(row)


@router.delete(
    "/workspaces/{workspace_id}",
    response_model=WorkspaceReply,
    summary="Soft-delete a workspace: its sources stop, its data is hidden; restorable",
)
async def delete_workspace(
    workspace_id: WorkspaceId, caller: TenantAdmin, state: State
) -> WorkspaceReply:
    """Its scopes and webhooks are refused on every replica on return."""
    tenant = tenant_of(caller)
    grace_days = gateway_of(state).settings.soft_delete_grace_days
    async with deleting(state, tenant, workspace_id, caller.subject) as change:
        row = await service.delete_workspace(
            change.session, state.outbox, tenant, workspace_id, caller.subject, grace_days
        )
        await change.revoke(Revoked("workspace", tenant, workspace_id=workspace_id))
    return _workspace(row)


@router.post(
    "/workspaces/{workspace_id}/restore",
    response_model=WorkspaceReply,
    summary="Undo a delete",
    responses=PAST_GRACE,
)
async def restore_workspace(
    workspace_id: WorkspaceId, caller: TenantAdmin, session: TenantSession, state: State
) -> WorkspaceReply:
    """Brings a soft-deleted workspace back, with its sources and data, within the grace period."""
    row = await service.restore_workspace(
        session, state.outbox, tenant_of(caller), workspace_id, caller.subject
    )
    _scopes_changed(state)
    return _workspace(row)


# views ----------------------------------------------------------------------------------


@router.post(
    "/views",
    status_code=201,
    response_model=ViewReply,
    summary="Join several workspaces into one scope (use it as ?scope=view:<id>)",
)
async def create_view(
    body: ViewCreate, caller: TenantAdmin, session: TenantSession, state: State
) -> ViewReply:
    """A named set of the tenant's workspaces, queried as one scope; every workspace must be
    the tenant's and live."""
    row = await service.create_view(
        session, state.outbox, tenant_of(caller), body.name, body.workspace_ids, caller.subject
    )
    return _view(row)


@router.get("/views", response_model=Page[ViewReply], summary="The tenant's views")
async def list_views(
    caller: Reader, session: TenantSession, limit: Limit = 100, cursor: Cursor = None
) -> Page[ViewReply]:
    """The views of the caller's tenant, a page at a time."""
    rows = await repository.list_views(
        session, tenant_of(caller), after=after_id(cursor), limit=limit
    )
    return Page[ViewReply](
        items=[_view(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )


@router.get("/views/{view_id}", response_model=ViewReply, summary="One view")
async def get_view(view_id: ViewId, caller: Reader, session: TenantSession) -> ViewReply:
    """One view and the workspaces it joins."""
    return _view(await service.get_view(session, tenant_of(caller), view_id))


@router.patch("/views/{view_id}", response_model=ViewReply, summary="Rename or re-scope a view")
async def change_view(
    view_id: ViewId, body: ViewChange, caller: TenantAdmin, session: TenantSession, state: State
) -> ViewReply:
    """Renames a view or replaces its workspaces; scopes resolved through it change at once."""
    row = await service.change_view(
        session,
        state.outbox,
        tenant_of(caller),
        view_id,
        name=body.name,
        workspace_ids=body.workspace_ids,
        actor=caller.subject,
    )
    _scopes_changed(state)
    return _view(row)


@router.delete("/views/{view_id}", status_code=204, summary="Delete a view")
async def delete_view(
    view_id: ViewId, caller: TenantAdmin, session: TenantSession, state: State
) -> Response:
    """Deletes a view (its workspaces and their data stay); nothing to restore."""
    await service.delete_view(session, state.outbox, tenant_of(caller), view_id, caller.subject)
    _scopes_changed(state)
    return Response(status_code=204)

"""The cross-tenant roll-up's checks and reads (docs/decisions.md, "Roll-up grants").

A roll-up names tenants; each one other than the requester's own must have granted the
requester's tenant, checked in the named tenant's own transaction (its grants are under
row-level security) when the report is asked for and again when it renders, so a grant
revoked in between fails the job. A platform admin acting as the platform (no tenant in
its token) may name any tenant; its roll-ups are kept under :data:`PLATFORM_TENANT`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sextant.reports.db import grants
from sextant.reports.domain.kinds import TenantFigures
from sextant.runtime.calls import OnBehalfOf, PeerCalls

PLATFORM_TENANT = UUID(int=0)  # where a platform admin's own roll-ups are kept
READER_ROLE: Any = "member"  # what the worker reads as in each tenant: the roll-up's numbers


async def first_ungranted(db: Any, grantee: UUID, named: list[UUID]) -> UUID | None:
    """The first of ``named`` (the grantee's own tenant aside) that does not grant
    ``grantee`` its roll-up metrics; None when all do, or when the grantee is the platform."""
    if grantee == PLATFORM_TENANT:
        return None
    for tenant in named:
        if tenant == grantee:
            continue
        async with db.transaction(tenant) as session:
            if not await grants.granted(session, tenant, grantee):
                return tenant
    return None


def reader(subject: str, tenant: UUID, workspaces: list[UUID] | None = None) -> OnBehalfOf:
    """The worker's token for one tenant of a roll-up: role member, the given workspaces."""
    return OnBehalfOf(
        subject=subject, role=READER_ROLE, tenant_id=tenant, scope_workspaces=workspaces or []
    )


async def tenant_named(calls: PeerCalls, subject: str, tenant: UUID) -> str:
    """A tenant's name as the gateway holds it (its 404 when there is no such tenant)."""
    reply = await calls.get_json("gateway", "/internal/tenant", {}, reader(subject, tenant))
    return str(reply["name"])


async def tenant_figures(
    calls: PeerCalls,
    subject: str,
    tenant: UUID,
    window: dict[str, str],
    definition: str,
) -> TenantFigures:
    """One tenant's name, its live workspaces (the gateway) and its DORA keys and flow over
    the window (insights, with a token signing those workspaces in as the scope)."""
    name = await tenant_named(calls, subject, tenant)
    listed = calls.pages(
        "gateway", "/internal/workspaces", {"limit": "500"}, reader(subject, tenant)
    )
    workspaces = [UUID(w["id"]) async for w in listed]
    on_behalf = reader(subject, tenant, workspaces)
    # a view scope covers exactly what the token signs: here, every live workspace
    asked = {"scope": f"view:{tenant}", **window}
    dora = await calls.get_json(
        "insights", "/v1/metrics/dora", {**asked, "definition": definition}, on_behalf
    )
    flow = await calls.get_json("insights", "/v1/metrics/flow", asked, on_behalf)
    return TenantFigures(tenant, name, len(workspaces), dora, flow)

"""What other services may read from the gateway (behind the internal token, never public):
the caller's tenant's name, its live workspaces and its audit log with the chain check, for
the reports service's covers, cross-tenant roll-ups and compliance packs. Each route applies the rule of its public twin to
the user the token names, so nothing is visible through a job that is not through the API.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from sextant.gateway.api.audit import audit_log, verify
from sextant.gateway.authn import Principal, PublicRole
from sextant.gateway.db import repository
from sextant.gateway.schemas import AuditRecord, AuditVerifyReply, Page
from sextant.runtime.app import Session
from sextant.runtime.errors import NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, Moment, after_id, next_cursor
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/internal", tags=["internal"])

PER_TENANT = "the gateway's internal routes answer for one tenant"
AnyTenantRole = Annotated[
    InternalClaims,
    Depends(caller_with_role("tenant_admin", "manager", "member", "platform_admin")),
]
# the public audit log's rule: tenant admins, and a platform admin acting on the tenant
AuditReader = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]


class InternalTenantReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "0190d6a0-0000-7000-8000-000000000001", "name": "Acme"}]
        }
    )

    id: UUID
    name: str


class InternalWorkspace(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "0190d6a0-0000-7000-8000-000000000011", "name": "Payments"}]
        }
    )

    id: UUID
    name: str


def _as_principal(claims: InternalClaims) -> Principal:
    """The user the token names, as the public audit routes see a caller (the gateway
    vouched for them when it minted the token the job carries)."""
    role: PublicRole = "platform_admin" if claims.role == "platform_admin" else "tenant_admin"
    return Principal(claims.sub, role, claims.tenant(PER_TENANT), via="jwt")


@router.get(
    "/tenant",
    response_model=InternalTenantReply,
    summary="The caller's tenant: its id and name (for a report's cover)",
    responses={404: problem_response("the tenant does not exist")},
)
async def own_tenant(claims: AnyTenantRole, session: Session) -> InternalTenantReply:
    """The name a tenant was created with; any role of the tenant may read it."""
    tenant_id: UUID = claims.tenant(PER_TENANT)
    row = await repository.get_tenant(session, tenant_id)
    if row is None:
        raise NotFound(f"no tenant {tenant_id}")
    return InternalTenantReply(id=row.id, name=row.name)


@router.get(
    "/workspaces",
    response_model=Page[InternalWorkspace],
    summary="The caller's tenant's live workspaces, by id (for a cross-tenant roll-up)",
    responses={400: problem_response("a cursor this API did not give out, or no tenant")},
)
async def tenant_workspaces(
    claims: AnyTenantRole, session: Session, limit: Limit = 100, cursor: Cursor = None
) -> Page[InternalWorkspace]:
    """Every workspace of the tenant not deleted, oldest id first: what a roll-up counts as
    the tenant (the reports worker signs them into its token for insights)."""
    rows = await repository.list_workspaces(
        session,
        claims.tenant(PER_TENANT),
        include_deleted=False,
        after=after_id(cursor),
        limit=limit,
    )
    return Page[InternalWorkspace](
        items=[InternalWorkspace(id=r.id, name=r.name) for r in rows],
        next_cursor=next_cursor(rows, limit, lambda r: r.id),
    )


@router.get(
    "/audit-log",
    response_model=Page[AuditRecord],
    summary="The caller's tenant's configuration changes over a period, newest first",
)
async def tenant_audit_log(
    claims: AuditReader,
    session: Session,
    since: Annotated[Moment | None, Query(description="only changes at or after this time")] = None,
    until: Annotated[Moment | None, Query(description="only changes before this time")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AuditRecord]:
    """Exactly what ``GET /v1/audit-log`` answers the user the token names."""
    return await audit_log(
        _as_principal(claims), session, since=since, until=until, limit=limit, cursor=cursor
    )


@router.get(
    "/audit-log/verify",
    response_model=AuditVerifyReply,
    summary="The caller's tenant's hash chain recomputed (as GET /v1/audit-log/verify)",
)
async def tenant_audit_verify(claims: AuditReader, session: Session) -> AuditVerifyReply:
    """Whether any record of the tenant's chain was altered or removed since written."""
    return await verify(_as_principal(claims), session)

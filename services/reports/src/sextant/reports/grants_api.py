"""Roll-up grants (behind the gateway's internal token): a tenant admin lets another
tenant read this tenant's metrics in cross-tenant roll-ups, pages the grants, revokes one.
Granting and revoking are configuration changes, audited through the gateway's audit log
(ConfigChanged on the outbox). See docs/decisions.md, "Roll-up grants"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Response

from sextant.contracts import uuid7
from sextant.reports.db import grants
from sextant.reports.schemas import GrantPage, GrantRequest, GrantView
from sextant.runtime.app import Session, State
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import Conflict, InvalidInput, NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, page_by_id
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["reports"])

# What leaves the tenant is the tenant admin's call, as for API keys and subscriptions.
Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin"))]
GrantId = Annotated[UUID, Path(description="the grant's id, as POST /v1/rollup-grants gave it")]

FORBIDDEN = problem_response("only a tenant admin manages roll-up grants")
NOT_FOUND = problem_response("no such grant in the caller's tenant")
PER_TENANT = "roll-up grants are per tenant"  # why a call needs a tenant, in its 400


def _view(row: sa.Row[Any]) -> GrantView:
    return GrantView(
        id=row.id,
        grantee_tenant_id=row.grantee_tenant_id,
        granted_by=row.granted_by,
        created_at=row.created_at,
    )


@router.post(
    "/rollup-grants",
    status_code=201,
    response_model=GrantView,
    summary="Let another tenant include this tenant in its cross-tenant roll-ups",
    description="Stores the grant (audited, `reports.rollup_grant.create`) and answers 201. "
    "The grantee tenant's admins and managers may then name this tenant in a roll-up: its "
    "DORA and flow metrics over the roll-up's period, nothing else.",
    responses={
        400: problem_response("the grantee is the caller's own tenant"),
        403: FORBIDDEN,
        409: problem_response("the tenant already granted the grantee"),
        422: problem_response("a grantee_tenant_id that is not a UUID, or an unknown field"),
    },
)
async def create_grant(
    body: GrantRequest, caller: Admin, session: Session, state: State, response: Response
) -> GrantView:
    tenant = caller.tenant(PER_TENANT)
    if body.grantee_tenant_id == tenant:
        raise InvalidInput("grantee_tenant_id is the caller's own tenant: nothing to grant")
    row = await grants.create(
        session, uuid7(), tenant, body.grantee_tenant_id, caller.sub, datetime.now(UTC)
    )
    if row is None:
        raise Conflict(
            f"grantee_tenant_id {body.grantee_tenant_id} is already granted; revoke that "
            "grant first to grant it again"
        )
    view = _view(row)
    await record_change(
        session,
        state.outbox,
        tenant,
        config_change(
            caller.sub,
            "reports.rollup_grant.create",
            ("rollup_grant", view.id),
            after=view.model_dump(mode="json"),
        ),
    )
    response.headers["Location"] = f"/v1/rollup-grants/{view.id}"
    return view


@router.get(
    "/rollup-grants",
    response_model=GrantPage,
    summary="The tenants this tenant lets include it in roll-ups, oldest grant first",
    description="Every live grant of the caller's tenant, by id; page with next_cursor.",
    responses={
        400: problem_response("a cursor this API did not give out"),
        403: FORBIDDEN,
        422: problem_response("a parameter out of range (named in the detail)"),
    },
)
async def list_grants(
    caller: Admin, session: Session, limit: Limit = 50, cursor: Cursor = None
) -> GrantPage:
    rows = await grants.page(session, caller.tenant(PER_TENANT), after_id(cursor), limit)
    return page_by_id(GrantPage, rows, limit, _view)


@router.delete(
    "/rollup-grants/{grant_id}",
    status_code=204,
    summary="Revoke a roll-up grant",
    description="Removes the grant (audited, `reports.rollup_grant.delete`): the grantee "
    "may no longer name this tenant in a roll-up.",
    responses={
        403: FORBIDDEN,
        404: NOT_FOUND,
        422: problem_response("the id is not a UUID"),
    },
)
async def delete_grant(
    grant_id: GrantId, caller: Admin, session: Session, state: State
) -> Response:
    tenant = caller.tenant(PER_TENANT)
    row = await grants.delete(session, tenant, grant_id)
    if row is None:
        raise NotFound(f"no roll-up grant {grant_id}")
    await record_change(
        session,
        state.outbox,
        tenant,
        config_change(
            caller.sub,
            "reports.rollup_grant.delete",
            ("rollup_grant", grant_id),
            before=_view(row).model_dump(mode="json"),
        ),
    )
    return Response(status_code=204)

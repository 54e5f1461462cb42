"""Reports's HTTP routes (behind the gateway's internal token): ask for a report, follow
it, page the tenant's reports, download the file, retry a failed one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.reports.db import repository
from sextant.reports.render import CONTENT_TYPES, announce_requested, worker_of
from sextant.reports.rollup import PLATFORM_TENANT, first_ungranted, tenant_named
from sextant.reports.schemas import LONGEST_PERIOD_DAYS, ReportPage, ReportRequest, ReportView
from sextant.runtime.app import State, service_state
from sextant.runtime.calls import PeerCallFailed
from sextant.runtime.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    Unavailable,
    problem_response,
)
from sextant.runtime.objectstore import ObjectNotFound
from sextant.runtime.paging import Cursor, Limit, after_id, page_by_id
from sextant.runtime.scope import SCOPE_DESCRIPTION, QueryScope, resolve_scope
from sextant.runtime.tokens import InternalClaims, caller_with_role, internal_claims

router = APIRouter(prefix="/v1", tags=["reports"])

Requester = Annotated[
    InternalClaims,
    # a partner reads only what a tenant granted it, which reports cannot check yet; a
    # platform admin acts on one tenant through the gateway's /v1/tenants/{id}/… (the portal)
    Depends(caller_with_role("tenant_admin", "platform_admin", "manager", "member")),
]
ReportId = Annotated[UUID, Path(description="the report's id, as POST /v1/reports gave it")]
CHUNK_BYTES = 64 * 1024

NOT_FOUND = problem_response("no such report in the caller's tenant")
FORBIDDEN = problem_response("the caller's role may not ask for reports")
BAD_ID = problem_response("the id is not a UUID")
GONE = problem_response("the report's file expired and was deleted (the retention of files)")


async def _kept(session: Any, tenant: UUID, report_id: UUID) -> sa.Row[Any]:
    """The tenant's report; 404 when there is none, 410 when its file expired."""
    row = await repository.get(session, tenant, report_id)
    if row is None:
        raise NotFound(f"no report {report_id}")
    if row.deleted_at is not None:
        raise Gone(
            f"report {report_id} expired on {row.expires_at:%Y-%m-%d}: its file is deleted; "
            "ask for the report again"
        )
    return row


PER_TENANT = "reports are per tenant"  # why a call needs a tenant, in its 400
ROLLUP_ROLES = ("tenant_admin", "manager", "platform_admin")  # who a grant lets in


def requester_tenant(caller: InternalClaims) -> UUID:
    """Where the caller's reports are kept: its tenant, or for a platform admin acting as
    the platform (no tenant) the platform's own pseudo-tenant, which holds its roll-ups."""
    if caller.tid is None and caller.role == "platform_admin":
        return PLATFORM_TENANT
    return caller.tenant(PER_TENANT)


async def tenant_session(request: Request, caller: Requester) -> AsyncIterator[AsyncSession]:
    """The request's transaction in :func:`requester_tenant` (the runtime's opens none for
    a caller without a tenant, and a platform admin's roll-ups are kept under one)."""
    async with service_state(request).db.transaction(requester_tenant(caller)) as session:
        yield session


# scope="function": committed before the reply is sent, as the runtime's Session
Session = Annotated[AsyncSession, Depends(tenant_session, scope="function")]


async def optional_scope(
    request: Request,
    scope: Annotated[
        str | None, Query(description=f"{SCOPE_DESCRIPTION}; required except for a rollup")
    ] = None,
) -> QueryScope | None:
    """``?scope=`` resolved as everywhere, when given (a roll-up names tenants instead)."""
    if scope is None:
        return None
    claims: InternalClaims = getattr(request.state, "claims", None) or await internal_claims(
        request
    )
    return resolve_scope(scope, claims)


async def check_rollup(state: Any, caller: InternalClaims, tenant: UUID, named: list[UUID]) -> None:
    """Before any job exists: the caller's role may ask for roll-ups, every named tenant
    (its own aside) granted the caller's tenant (403 naming the first that did not), and
    each exists (404 naming it). Grants are checked first, so a caller learns nothing of a
    tenant that did not grant it, not even whether it exists."""
    if caller.role not in ROLLUP_ROLES:
        raise Forbidden(f"a {caller.role} may not ask for a roll-up (tenant admins and managers)")
    refused = await first_ungranted(state.db, tenant, named)
    if refused is not None:
        raise Forbidden(
            f"tenant {refused} has not granted this tenant its roll-up metrics",
            tenant_id=str(refused),
        )
    calls = worker_of(state).calls
    if calls is None:
        raise Unavailable("reports cannot reach the gateway to look the tenants up")
    for named_tenant in named:
        try:
            await tenant_named(calls, caller.sub, named_tenant)
        except PeerCallFailed as failed:
            if failed.status == 404:
                raise NotFound(f"no tenant {named_tenant}", tenant_id=str(named_tenant)) from None
            raise Unavailable(f"the tenants cannot be looked up: {failed}") from None


def _view(row: sa.Row[Any]) -> ReportView:
    return ReportView(
        id=row.id,
        kind=row.kind,
        format=row.format,
        scope=row.scope,
        period_from=row.period_from,
        period_to=row.period_to,
        time_zone=row.time_zone,
        status=row.status,
        progress=row.progress,
        step=row.step,
        reason=row.reason,
        file=f"/v1/reports/{row.id}/file" if row.status == "done" else None,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        attempts=row.attempts,
        requested_by=row.requested_by,
        items=row.items,
        schedule_id=row.schedule_id,
        tenants=row.tenants,
        definition=row.definition,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


@router.post(
    "/reports",
    status_code=202,
    response_model=ReportView,
    summary="Ask for a report; it is rendered in the background",
    description="Checks the parameters, stores a queued job and answers 202 with its id and "
    "a Location to follow (GET /v1/reports/{id} shows status and progress). The scope is "
    "?scope=, checked against the caller's tenant by the gateway; from and to are days in "
    "the time zone, both included. A rollup names `tenants` instead of a scope: each one "
    "other than the caller's own must have granted the caller's tenant (a platform admin "
    "may name any).",
    responses={
        400: problem_response(
            "a bad or missing scope, from after to, or a period over three years"
        ),
        403: problem_response(
            "the caller's role may not ask for reports (or a rollup), or a named tenant has "
            "not granted the caller's tenant (named in the detail and `tenant_id`)"
        ),
        404: problem_response("a rollup names a tenant that does not exist (named)"),
        422: problem_response("a parameter of the wrong type or value (named in the detail)"),
        503: problem_response("a rollup's tenants cannot be looked up (the gateway is down)"),
    },
)
async def create_report(
    body: ReportRequest,
    caller: Requester,
    scope: Annotated[QueryScope | None, Depends(optional_scope)],
    session: Session,
    state: State,
    response: Response,
    background: BackgroundTasks,
) -> ReportView:
    tenant = requester_tenant(caller)
    if body.period_from > body.period_to:
        raise InvalidInput("from must be on or before to", parameter="from")
    if (body.period_to - body.period_from).days >= LONGEST_PERIOD_DAYS:
        raise InvalidInput("from must be at most three years before to", parameter="from")
    if body.kind == "forecast" and body.period_to <= datetime.now(UTC).date():
        raise InvalidInput("a forecast looks ahead: to must be after today", parameter="to")
    if body.items is not None and body.kind != "forecast":
        raise InvalidInput("items is for the forecast kind only", parameter="items")
    if body.tenants is not None:
        if scope is not None:
            raise InvalidInput("a rollup names tenants, not a scope", parameter="scope")
        await check_rollup(state, caller, tenant, body.tenants)
        scope = QueryScope("tenants:" + ",".join(str(t) for t in body.tenants), [])
    elif scope is None:
        raise InvalidInput("scope is required: workspace:<id> or view:<id>", parameter="scope")
    elif tenant == PLATFORM_TENANT:
        raise InvalidInput(f"{PER_TENANT}; the call names none")
    new = repository.NewReport(
        id=uuid7(),
        tenant_id=tenant,
        kind=body.kind,
        format=body.format,
        scope=scope.text,
        scope_workspaces=scope.workspaces,
        period_from=body.period_from,
        period_to=body.period_to,
        time_zone=body.time_zone,
        requested_by=caller.sub,
        requester_role=caller.role,
        items=body.items,
        tenants=body.tenants,
        definition=body.definition,
    )
    row = await repository.create(session, new, datetime.now(UTC))
    await _requested(session, state, row)
    background.add_task(worker_of(state).wake.set)  # after the commit, not before
    response.headers["Location"] = f"/v1/reports/{row.id}"
    return _view(row)


async def _requested(session: Any, state: Any, row: sa.Row[Any]) -> None:
    await announce_requested(session, state.outbox, row)


@router.get(
    "/reports",
    response_model=ReportPage,
    summary="The tenant's reports, oldest first",
    description="Every report asked for in the caller's tenant whose file has not expired, "
    "by id; page with next_cursor.",
    responses={
        400: problem_response("a cursor this API did not give out"),
        403: FORBIDDEN,
        422: problem_response("a parameter out of range (named in the detail)"),
    },
)
async def list_reports(
    caller: Requester, session: Session, limit: Limit = 50, cursor: Cursor = None
) -> ReportPage:
    rows = await repository.page(session, requester_tenant(caller), after_id(cursor), limit)
    return page_by_id(ReportPage, rows, limit, _view)


@router.get(
    "/reports/{report_id}",
    response_model=ReportView,
    summary="One report: status, progress, and its file once done",
    responses={403: FORBIDDEN, 404: NOT_FOUND, 410: GONE, 422: BAD_ID},
)
async def get_report(report_id: ReportId, caller: Requester, session: Session) -> ReportView:
    """Queued, running (with a percentage and the step), done (with the file's link, size
    and SHA-256) or failed (with the reason; POST .../retry renders it again)."""
    return _view(await _kept(session, requester_tenant(caller), report_id))


@router.get(
    "/reports/{report_id}/file",
    summary="The rendered file, streamed from the object store",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the PDF or CSV",
            "content": {"application/pdf": {}, "text/csv": {}},
        },
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: problem_response("the report is not rendered (yet, or it failed)"),
        410: GONE,
        422: BAD_ID,
    },
)
async def report_file(
    report_id: ReportId, caller: Requester, session: Session, state: State
) -> StreamingResponse:
    """The file as rendered, with its SHA-256 in a header; a download name from the kind
    and period."""
    row = await _kept(session, requester_tenant(caller), report_id)
    if row.status != "done" or row.object_key is None or state.objects is None:
        raise Conflict(
            f"report {report_id} is {row.status}, not rendered", report_status=row.status
        )
    try:
        data = await state.objects.get(row.object_key)
    except ObjectNotFound:
        raise NotFound(f"the file of report {report_id} is no longer kept") from None

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]

    name = f"{row.kind}-{row.period_from}-{row.period_to}.{row.format}"
    return StreamingResponse(
        chunks(),
        media_type=CONTENT_TYPES[row.format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(len(data)),
            "X-Content-SHA256": row.sha256 or "",
        },
    )


@router.post(
    "/reports/{report_id}/retry",
    status_code=202,
    response_model=ReportView,
    summary="Render a failed report again",
    responses={
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: problem_response("the report has not failed"),
        410: GONE,
        422: BAD_ID,
    },
)
async def retry_report(
    report_id: ReportId,
    caller: Requester,
    session: Session,
    state: State,
    response: Response,
    background: BackgroundTasks,
) -> ReportView:
    """Puts a failed report back on the queue with the same parameters."""
    tenant = requester_tenant(caller)
    if not await repository.requeue(session, tenant, report_id, datetime.now(UTC)):
        held = await _kept(session, tenant, report_id)
        raise Conflict(f"report {report_id} is {held.status}; only a failed one is retried")
    row = await _kept(session, tenant, report_id)  # requeued in this very transaction
    await _requested(session, state, row)
    background.add_task(worker_of(state).wake.set)
    response.headers["Location"] = f"/v1/reports/{row.id}"
    return _view(row)

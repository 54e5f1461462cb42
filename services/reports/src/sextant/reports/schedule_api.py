"""Report schedules (behind the gateway's internal token): create one, page the tenant's,
read one, give one a new scope (which resumes it when a purge paused it), delete one.
Creating, changing and deleting are configuration changes, audited through the gateway's
audit log (ConfigChanged on the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Response

from sextant.contracts import uuid7
from sextant.reports.db import schedules
from sextant.reports.domain.schedules import next_run
from sextant.reports.scheduler import cadence_of
from sextant.reports.schemas import SchedulePage, ScheduleRequest, ScheduleView
from sextant.runtime.app import Session, State
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import NotFound, Unprocessable, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, page_by_id
from sextant.runtime.scope import QueryScope, ScopeParam, ScopeText, resolve_scope
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["reports"])

# A platform admin acts on one tenant through the gateway's /v1/tenants/{id}/… (the portal's
# admin), as on every other reports route; without a tenant it gets PER_TENANT's 400.
Reader = Annotated[
    InternalClaims,
    Depends(caller_with_role("tenant_admin", "platform_admin", "manager", "member")),
]
# A schedule reports on its creator's behalf to the roles it notifies: not a member's call.
Planner = Annotated[
    InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin", "manager"))
]
ScheduleId = Annotated[
    UUID, Path(description="the schedule's id, as POST /v1/report-schedules gave it")
]

NOT_FOUND = problem_response("no such schedule in the caller's tenant")
BAD_ID = problem_response("the id is not a UUID")


PER_TENANT = "schedules are per tenant"  # why a call needs a tenant, in its 400


def schedulable_scope(scope: ScopeParam) -> QueryScope:
    """The request's ``?scope=``, checked as the gateway signed it, covering a workspace at
    least: a schedule of none would report on nothing (as a purge-paused one would)."""
    if not scope.workspaces:
        raise Unprocessable(f"scope {scope.text} covers no live workspace to report on")
    return scope


SchedulableScope = Annotated[QueryScope, Depends(schedulable_scope)]
EMPTY_SCOPE = "a scope covering no live workspace"


def _view(row: sa.Row[Any]) -> ScheduleView:
    return ScheduleView(
        id=row.id,
        kind=row.kind,
        format=row.format,
        scope=row.scope,
        scope_workspaces=row.scope_workspaces,
        every=row.every,
        day=row.day,
        at=row.at,
        time_zone=row.time_zone,
        notify=row.notify,
        created_by=row.created_by,
        created_at=row.created_at,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        last_report_id=row.last_report_id,
        paused_at=row.paused_at,
    )


def _audited(view: ScheduleView) -> dict[str, Any]:
    """What the audit log keeps of a schedule: as configured, not its runs."""
    return view.model_dump(mode="json", exclude={"next_run_at", "last_run_at", "last_report_id"})


@router.post(
    "/report-schedules",
    status_code=201,
    response_model=ScheduleView,
    summary="Schedule a report, weekly or monthly",
    description="Stores the schedule (audited) and answers 201 with its first run. Each "
    "run queues a report like POST /v1/reports, on the creator's behalf for the scope's "
    "workspaces as they are now: weekly over the seven days before the run, monthly over "
    "the month before it, in the schedule's time zone. The roles in notify are told when "
    "each report is ready or failed.",
    responses={
        400: problem_response("a bad scope"),
        403: problem_response("the caller's role may not schedule reports"),
        422: problem_response(
            f"a parameter of the wrong type or value (named in the detail); {EMPTY_SCOPE}"
        ),
    },
)
async def create_schedule(
    body: ScheduleRequest,
    caller: Planner,
    scope: SchedulableScope,
    session: Session,
    state: State,
    response: Response,
) -> ScheduleView:
    tenant = caller.tenant(PER_TENANT)
    now = datetime.now(UTC)
    new = schedules.NewSchedule(
        id=uuid7(),
        tenant_id=tenant,
        kind=body.kind,
        format=body.format,
        scope=scope.text,
        scope_workspaces=scope.workspaces,
        every=body.every,
        day=body.day,
        at=body.at,
        time_zone=body.time_zone,
        notify=list(body.notify),
        created_by=caller.sub,
        creator_role=caller.role,
    )
    view = _view(await schedules.create(session, new, now, next_run(cadence_of(new), now)))
    await record_change(
        session,
        state.outbox,
        tenant,
        config_change(
            caller.sub,
            "reports.schedule.create",
            ("report_schedule", view.id),
            after=_audited(view),
        ),
    )
    response.headers["Location"] = f"/v1/report-schedules/{view.id}"
    return view


@router.get(
    "/report-schedules",
    response_model=SchedulePage,
    summary="The tenant's report schedules, oldest first",
    description="Every schedule of the caller's tenant, by id, with its next run; page "
    "with next_cursor.",
    responses={
        400: problem_response("a cursor this API did not give out"),
        403: problem_response("the caller's role may not read schedules"),
        422: problem_response("a parameter out of range (named in the detail)"),
    },
)
async def list_schedules(
    caller: Reader, session: Session, limit: Limit = 50, cursor: Cursor = None
) -> SchedulePage:
    rows = await schedules.page(session, caller.tenant(PER_TENANT), after_id(cursor), limit)
    return page_by_id(SchedulePage, rows, limit, _view)


@router.get(
    "/report-schedules/{schedule_id}",
    response_model=ScheduleView,
    summary="One report schedule, its next run and the report its last run produced",
    description="The schedule as created, when it runs next (UTC), and its last run and "
    "report, if it ran yet.",
    responses={
        403: problem_response("the caller's role may not read schedules"),
        404: NOT_FOUND,
        422: BAD_ID,
    },
)
async def get_schedule(schedule_id: ScheduleId, caller: Reader, session: Session) -> ScheduleView:
    row = await schedules.get(session, caller.tenant(PER_TENANT), schedule_id)
    if row is None:
        raise NotFound(f"no report schedule {schedule_id}")
    return _view(row)


@router.patch(
    "/report-schedules/{schedule_id}",
    response_model=ScheduleView,
    summary="Give a report schedule a new scope, resuming it if a purge paused it",
    description="Replaces the schedule's scope and workspaces with those ?scope= covers now "
    "(checked as on creation, once the schedule is found: another tenant's or an unknown "
    "one is a 404 whatever the scope; audited). A schedule paused because the purge of its "
    "workspaces left it none runs again, from its next run after now as on creation; one "
    "still running keeps its next run.",
    responses={
        400: problem_response("a bad scope"),
        403: problem_response("the caller's role may not change schedules"),
        404: problem_response("no such schedule in the caller's tenant, whatever the scope"),
        422: problem_response(f"the id is not a UUID; {EMPTY_SCOPE}"),
    },
)
async def rescope_schedule(
    schedule_id: ScheduleId,
    caller: Planner,
    scope: ScopeText,
    session: Session,
    state: State,
) -> ScheduleView:
    tenant = caller.tenant(PER_TENANT)
    before = await schedules.get(session, tenant, schedule_id, for_update=True)
    if before is None:
        raise NotFound(f"no report schedule {schedule_id}")
    # only now: a scope's 400 or 422 would answer for another tenant's schedule
    asked = schedulable_scope(resolve_scope(scope, caller))
    paused = before.paused_at is not None
    resume_at = next_run(cadence_of(before), datetime.now(UTC)) if paused else None
    after = _view(
        await schedules.rescope(
            session, tenant, schedule_id, asked.text, asked.workspaces, resume_at
        )
    )
    await record_change(
        session,
        state.outbox,
        tenant,
        config_change(
            caller.sub,
            "reports.schedule.update",
            ("report_schedule", schedule_id),
            before=_audited(_view(before)),
            after=_audited(after),
        ),
    )
    return after


@router.delete(
    "/report-schedules/{schedule_id}",
    status_code=204,
    summary="Stop a report schedule",
    description="Removes the schedule (audited); the reports it produced stay.",
    responses={
        403: problem_response("the caller's role may not delete schedules"),
        404: NOT_FOUND,
        422: BAD_ID,
    },
)
async def delete_schedule(
    schedule_id: ScheduleId, caller: Planner, session: Session, state: State
) -> Response:
    tenant = caller.tenant(PER_TENANT)
    row = await schedules.delete(session, tenant, schedule_id)
    if row is None:
        raise NotFound(f"no report schedule {schedule_id}")
    await record_change(
        session,
        state.outbox,
        tenant,
        config_change(
            caller.sub,
            "reports.schedule.delete",
            ("report_schedule", schedule_id),
            before=_audited(_view(row)),
        ),
    )
    return Response(status_code=204)

"""The suggestions routes (behind the gateway's internal token): runs on demand and their
progress, the ranked suggestions, feedback on one, and acceptance per kind.

Managers and admins run and judge; members read. Every lookup is scoped to the caller's
tenant and the scope's workspaces: another tenant's suggestion answers 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Response

from sextant.insights.health import db, learning, service
from sextant.insights.health.schemas import (
    FeedbackRequest,
    KindStats,
    Run,
    RunRequest,
    Suggestion,
    SuggestionPage,
    SuggestionStats,
)
from sextant.insights.team_metrics import team_or_error
from sextant.runtime.app import Session, State
from sextant.runtime.errors import InvalidInput, NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, next_cursor
from sextant.runtime.scope import ScopeParam
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["suggestions"])

# A platform admin acts on one tenant through the gateway's /v1/tenants/{id}/… (the
# portal's way in), as with every other service's routes.
LEADS = ("tenant_admin", "platform_admin", "manager")
Lead = Annotated[InternalClaims, Depends(caller_with_role(*LEADS))]
Member = Annotated[InternalClaims, Depends(caller_with_role(*LEADS, "member"))]
Responses = dict[int | str, dict[str, Any]]
BAD_SCOPE: Responses = {400: problem_response("a bad scope, or a cursor this API did not give out")}
INVALID: Responses = {422: problem_response("a field of the wrong type or out of range (named)")}
FORBIDDEN: Responses = {403: problem_response("the caller's role may not do this")}
RunId = Annotated[UUID, Path(description="the run's id, as POST /v1/suggestions/runs gave it")]
SuggestionId = Annotated[UUID, Path(description="the suggestion's id")]


PER_TENANT = "suggestions belong to a tenant"  # why a call needs a tenant, in its 400


@router.post(
    "/suggestions/runs",
    response_model=Run,
    status_code=202,
    summary="Run the team-health detectors and suggestions for a workspace now",
    description="Queued and carried out in the background: 202 with the run and its "
    "Location; follow its progress and result with GET. The scope must be one workspace.",
    responses={
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such team in this tenant"),
        410: problem_response("the team was deleted"),
        **INVALID,
    },
)
async def start_run(
    caller: Lead,
    state: State,
    session: Session,
    scope: ScopeParam,
    response: Response,
    background: BackgroundTasks,
    body: RunRequest | None = None,
) -> Run:
    if not scope.text.startswith("workspace:") or len(scope.workspaces) != 1:
        raise InvalidInput("scope must be one workspace:<id> for a run")
    if body is not None and body.team_id is not None:
        await team_or_error(session, caller.tenant(PER_TENANT), body.team_id, parameter="team_id")
    row = await service.request_run(
        session,
        caller.tenant(PER_TENANT),
        scope.workspaces[0],
        None if body is None else body.team_id,
        "on_demand",
        caller.sub,
        datetime.now(UTC),
    )
    worker = state.extras.get("health_worker")
    if worker is not None:
        background.add_task(worker.wake.set)  # after the commit, not before
    response.headers["Location"] = f"/v1/suggestions/runs/{row.id}?scope={scope.text}"
    return service.run_view(row)


@router.get(
    "/suggestions/runs/{run_id}",
    response_model=Run,
    summary="A suggestions run: its progress and result",
    description="status queued → running → succeeded (or failed), progress in percent, and "
    "once done how many findings and suggestions, which path wrote them, what the grounding "
    "check dropped and the tokens spent.",
    responses={
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such run in the scope"),
        **INVALID,
    },
)
async def get_run(caller: Member, session: Session, scope: ScopeParam, run_id: RunId) -> Run:
    row = await db.run(session, caller.tenant(PER_TENANT), scope.workspaces, run_id)
    if row is None:
        raise NotFound(f"no suggestions run {run_id} in {scope.text}")
    return service.run_view(row)


@router.get(
    "/suggestions",
    response_model=SuggestionPage,
    summary="Team-health suggestions in a scope, ranked",
    description="Highest rank first (severity weight x the kind's expected acceptance from "
    "this tenant's verdicts), each with the findings it rests on and the path that wrote it. "
    "Page with next_cursor.",
    responses={**BAD_SCOPE, **FORBIDDEN, **INVALID},
)
async def list_suggestions(
    caller: Member,
    session: Session,
    scope: ScopeParam,
    status: Annotated[
        Literal["open", "confirmed", "rejected", "snoozed"] | None,
        Query(description="only suggestions in this state"),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> SuggestionPage:
    rows = await db.list_suggestions(
        session, caller.tenant(PER_TENANT), scope.workspaces, status, limit, after_id(cursor)
    )
    return SuggestionPage(
        items=[service.suggestion_view(r) for r in rows],
        next_cursor=next_cursor(rows, limit, lambda r: r.id),
    )


@router.get(
    "/suggestions/stats",
    response_model=SuggestionStats,
    summary="Acceptance of suggestions per kind",
    description="Per kind: suggestions confirmed, rejected, snoozed and open in the scope, "
    "the observed acceptance rate, and the tenant's expected acceptance that ranks them.",
    responses={**BAD_SCOPE, **FORBIDDEN, **INVALID},
)
async def stats(caller: Member, session: Session, scope: ScopeParam) -> SuggestionStats:
    tenant = caller.tenant(PER_TENANT)
    counts = await db.verdict_counts(session, tenant, scope.workspaces)
    model = await db.acceptance(session, tenant)
    kinds = []
    for kind in sorted(set(counts) | set(model)):
        c = counts.get(kind, {})
        confirmed, rejected = c.get("confirmed", 0), c.get("rejected", 0)
        judged = confirmed + rejected
        tenant_confirmed, tenant_rejected, _ = model.get(kind, (0, 0, 0))
        kinds.append(
            KindStats(
                kind=kind,
                confirmed=confirmed,
                rejected=rejected,
                snoozed=c.get("snoozed", 0),
                open=c.get("open", 0),
                acceptance_rate=confirmed / judged if judged else None,
                expected_acceptance=round(
                    learning.acceptance(tenant_confirmed, tenant_rejected), 6
                ),
            )
        )
    return SuggestionStats(kinds=kinds)


@router.post(
    "/suggestions/{suggestion_id}/feedback",
    response_model=Suggestion,
    summary="Confirm, reject or snooze a suggestion",
    description="Confirm and reject teach the tenant's acceptance model for the kind; a "
    "rejected kind is not suggested again for the same people and area within the cooldown; "
    "a snooze holds it back for snooze_days. Once confirmed or rejected, a suggestion is "
    "decided (409 after).",
    responses={
        **BAD_SCOPE,
        **FORBIDDEN,
        404: problem_response("no such suggestion in the scope"),
        409: problem_response("the suggestion was already confirmed or rejected"),
        **INVALID,
    },
)
async def feedback(
    caller: Lead,
    state: State,
    session: Session,
    scope: ScopeParam,
    suggestion_id: SuggestionId,
    body: FeedbackRequest,
) -> Suggestion:
    return await service.record_feedback(
        session,
        state.outbox,
        caller.tenant(PER_TENANT),
        scope.workspaces,
        suggestion_id,
        body,
        caller.sub,
        datetime.now(UTC),
    )

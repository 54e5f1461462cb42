"""Forecast's HTTP routes (behind the gateway's internal token): parse, call, reply."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from sextant.forecast import reading, service
from sextant.forecast.db import reads, repository
from sextant.forecast.domain.montecarlo import ForecastOptions
from sextant.forecast.schemas import (
    BacktestReply,
    HistoryReply,
    HowManyReply,
    SprintDetail,
    SprintForecastReply,
    SprintList,
    SprintSummary,
    StaleReply,
    WhenReply,
    WorkItemDetail,
    WorkItemList,
    WorkItemSummary,
)
from sextant.runtime.app import Session
from sextant.runtime.errors import InvalidInput, NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, Moment
from sextant.runtime.scope import ScopeParam
from sextant.runtime.tabular import CSV_RESPONSE, list_reply
from sextant.runtime.tokens import Caller, InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["forecast"])

# Reads are for every role of the tenant (partners included: they build on forecasts);
# dismissing a stale flag is a judgement of the team's, so not a partner's.
Triager = Annotated[
    InternalClaims,
    Depends(caller_with_role("tenant_admin", "platform_admin", "manager", "member")),
]

# numpy refuses a negative seed (it answered 500); 63 bits are more than any forecast needs.
Seed = Annotated[int, Query(ge=0, le=2**63 - 1, description="the same seed, the same forecast")]
ItemTypes = Annotated[
    list[str] | None, Query(alias="item_type", description="only these item types")
]
Trials = Annotated[
    int, Query(ge=100, le=200_000, description="Monte Carlo trials: more is steadier, slower")
]
WindowWeeks = Annotated[
    int, Query(ge=4, le=260, description="how many past weeks of throughput to sample from")
]
CapacityFactor = Annotated[
    float, Query(gt=0, le=10, description="the team's capacity against its past: 0.8 = 20 % less")
]


def _options(
    trials: int,
    seed: int,
    window_weeks: int,
    capacity_factor: float,
    split_rate: float = 1.0,
    scope_growth_per_week: float = 0.0,
) -> ForecastOptions:
    try:
        return ForecastOptions(
            trials=trials,
            seed=seed,
            window_weeks=window_weeks,
            capacity_factor=capacity_factor,
            split_rate=split_rate,
            scope_growth_per_week=scope_growth_per_week,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


PER_TENANT = "forecasts are per tenant"  # why a call needs a tenant, in its 400


@router.get("/forecasts/how-many", response_model=HowManyReply, summary="Items done by a date")
async def how_many(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    until: Annotated[date, Query(description="the date to forecast to (within five years)")],
    item_types: ItemTypes = None,
    trials: Trials = 10_000,
    seed: Seed = 0,
    window_weeks: WindowWeeks = 52,
    capacity_factor: CapacityFactor = 1.0,
) -> HowManyReply:
    """How many items the scope will finish by a date, as percentiles and a curve, from Monte
    Carlo trials over its own weekly throughput. Answers 422 while the scope has no
    completed history to sample from."""
    options = _options(trials, seed, window_weeks, capacity_factor)
    return await service.forecast_how_many(
        session,
        caller.tenant(PER_TENANT),
        scope,
        until,
        item_types,
        options,
        datetime.now(UTC).date(),
    )


@router.get("/forecasts/when", response_model=WhenReply, summary="When N items will be done")
async def when(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    items: Annotated[int, Query(ge=1, le=100_000, description="how many items are left to do")],
    item_types: ItemTypes = None,
    trials: Trials = 10_000,
    seed: Seed = 0,
    window_weeks: WindowWeeks = 52,
    capacity_factor: CapacityFactor = 1.0,
    split_rate: Annotated[
        float,
        Query(ge=1, le=10, description="items each one becomes when started: 1.5 = half split"),
    ] = 1.0,
    scope_growth_per_week: Annotated[
        float, Query(ge=0, le=10_000, description="items added to the backlog each week")
    ] = 0.0,
) -> WhenReply:
    """By when the scope will finish a number of items, as percentile dates and a curve, from
    Monte Carlo trials over its own weekly throughput. Answers 422 while the scope has no
    completed history to sample from."""
    options = _options(
        trials, seed, window_weeks, capacity_factor, split_rate, scope_growth_per_week
    )
    return await service.forecast_when(
        session,
        caller.tenant(PER_TENANT),
        scope,
        items,
        item_types,
        options,
        datetime.now(UTC).date(),
    )


@router.get(
    "/work-items/stale", response_model=StaleReply, summary="In-progress items that are outliers"
)
async def stale(caller: Caller, session: Session, scope: ScopeParam) -> StaleReply:
    """Items in progress for far longer than the scope's items of their type usually take, each
    with its age percentile and why it is flagged."""
    return await service.stale_items(session, caller.tenant(PER_TENANT), scope, datetime.now(UTC))


# the read API ------------------------------------------------------------------------------
# /work-items/stale is declared above /work-items/{item_id}: the first route that matches wins.

BAD_INPUT = problem_response(
    "an unknown or uncovered scope, an inverted time range, a cursor "
    "this list did not give out; the detail names the parameter"
)
SCOPE_REFUSED = problem_response("an unknown or uncovered scope; the detail says which")
UNREADABLE = problem_response(
    "a parameter of the wrong shape (an id that is no UUID, a time "
    "without its offset, limit outside 1..500)"
)


def _since(what: str) -> Any:
    return Query(description=f"only items {what} at or after this time (ISO 8601 with offset)")


def _before(what: str) -> Any:
    return Query(description=f"only items {what} before this time (ISO 8601 with offset)")


@router.get(
    "/work-items",
    response_model=WorkItemList,
    summary="Work items in a scope",
    description="The scope's work items, newest created first, as JSON or (Accept: text/csv) "
    "CSV rows. Every filter narrows the list; a repeated one (status_category, status, "
    "item_type) matches any of its values. Time ranges are half-open: since ≤ t < before. "
    "`total` counts every item matching the filters, over all pages.",
    responses={
        200: CSV_RESPONSE,
        400: BAD_INPUT,
        404: problem_response("no such sprint in scope"),
        422: UNREADABLE,
    },
)
async def list_work_items(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    status_category: Annotated[
        list[Literal["todo", "in_progress", "done"]] | None,
        Query(description="only items in these status categories"),
    ] = None,
    status: Annotated[
        list[str] | None, Query(description="only items in these statuses (the tool's names)")
    ] = None,
    item_types: ItemTypes = None,
    assignee: Annotated[
        UUID | None, Query(description="only items assigned to this developer id")
    ] = None,
    sprint: Annotated[
        UUID | None, Query(description="only items in this sprint (an id from GET /v1/sprints)")
    ] = None,
    created_since: Annotated[Moment | None, _since("created")] = None,
    created_before: Annotated[Moment | None, _before("created")] = None,
    status_changed_since: Annotated[Moment | None, _since("that entered their status")] = None,
    status_changed_before: Annotated[Moment | None, _before("that entered their status")] = None,
    resolved_since: Annotated[Moment | None, _since("done")] = None,
    resolved_before: Annotated[Moment | None, _before("done")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> WorkItemList | Response:
    tenant, now = caller.tenant(PER_TENANT), datetime.now(UTC)
    filters = reads.WorkItemFilter(
        status_categories=list(status_category or []),
        statuses=status or [],
        item_types=item_types or [],
        assignee=assignee,
        sprint=None
        if sprint is None
        else await reading.sprint_in_scope(session, tenant, scope, sprint, now, "sprint"),
        created=reading.window(created_since, created_before, "created"),
        status_changed=reading.window(
            status_changed_since, status_changed_before, "status_changed"
        ),
        resolved=reading.window(resolved_since, resolved_before, "resolved"),
    )
    page = await reading.work_item_page(session, tenant, scope, filters, limit, cursor)
    return list_reply(request, page, WorkItemSummary)  # type: ignore[return-value]


@router.get(
    "/work-items/{item_id}",
    response_model=WorkItemDetail,
    summary="One work item with its status history",
    description="The item as it stands, every status it went through (oldest first, its "
    "creation included), the sprints it is or was in, and its stale flag.",
    responses={
        400: SCOPE_REFUSED,
        404: problem_response("no such work item in scope"),
        422: UNREADABLE,
    },
)
async def get_work_item(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    item_id: Annotated[UUID, Path(description="the id GET /v1/work-items gives out")],
) -> WorkItemDetail:
    return await reading.work_item_detail(
        session, caller.tenant(PER_TENANT), scope, item_id, datetime.now(UTC)
    )


@router.get(
    "/sprints",
    response_model=SprintList,
    summary="Sprints in a scope",
    description="The scope's sprints, latest start first (undated last), as JSON or "
    "(Accept: text/csv) CSV rows. A sprint is closed once closed, future while its start "
    "lies ahead, active otherwise. `total` counts every sprint matching, over all pages.",
    responses={200: CSV_RESPONSE, 400: BAD_INPUT, 422: UNREADABLE},
)
async def list_sprints(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    state: Annotated[
        list[Literal["active", "closed", "future"]] | None,
        Query(description="only sprints in these states"),
    ] = None,
    starts_since: Annotated[
        Moment | None, Query(description="only sprints starting at or after this time")
    ] = None,
    starts_before: Annotated[
        Moment | None, Query(description="only sprints starting before this time")
    ] = None,
    ends_since: Annotated[
        Moment | None, Query(description="only sprints ending at or after this time")
    ] = None,
    ends_before: Annotated[
        Moment | None, Query(description="only sprints ending before this time")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SprintList | Response:
    page = await reading.sprint_page(
        session,
        caller.tenant(PER_TENANT),
        scope,
        list(state or []),
        reading.window(starts_since, starts_before, "starts"),
        reading.window(ends_since, ends_before, "ends"),
        datetime.now(UTC),
        limit,
        cursor,
    )
    return list_reply(request, page, SprintSummary)  # type: ignore[return-value]


@router.get(
    "/sprints/{sprint_id}",
    response_model=SprintDetail,
    summary="One sprint and its items per status category",
    description="The sprint (its tool's id and name, state, start and end) and how many of "
    "its items are in each status category today.",
    responses={
        400: SCOPE_REFUSED,
        404: problem_response("no such sprint in scope"),
        422: UNREADABLE,
    },
)
async def get_sprint(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    sprint_id: Annotated[UUID, Path(description="the id GET /v1/sprints gives out")],
) -> SprintDetail:
    return await reading.sprint_detail(
        session, caller.tenant(PER_TENANT), scope, sprint_id, datetime.now(UTC)
    )


@router.post(
    "/work-items/{key}/stale-dismissal",
    status_code=204,
    summary="Dismiss a stale flag",
    responses={204: {"description": "dismissed: the item is no longer flagged"}},
)
async def dismiss(
    caller: Triager,
    session: Session,
    key: Annotated[str, Path(description="the work item's key in its tool, e.g. WEB-142")],
    scope: ScopeParam,
) -> None:
    """Says a stale flag is wrong for this item: it is not flagged again, and dismissals count
    in the false-positive rate."""
    if not await repository.dismiss_stale(
        session, caller.tenant(PER_TENANT), scope.workspaces, key, datetime.now(UTC)
    ):
        raise NotFound(f"no work item {key!r} in {scope.text}")


@router.get(
    "/forecasts/backtest", response_model=BacktestReply, summary="How well forecasts held here"
)
async def backtest(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    window_weeks: WindowWeeks = 52,
) -> BacktestReply:
    """Forecasts replayed from past weeks of this scope against what then happened: the share
    that held at each percentile, and the band it should land in."""
    options = _options(2000, 0, window_weeks, 1.0)
    return await service.calibration_for(
        session, caller.tenant(PER_TENANT), scope, options, datetime.now(UTC).date()
    )


@router.get(
    "/sprints/{sprint_id}/forecast",
    response_model=SprintForecastReply,
    summary="Will the sprint finish",
    responses={
        400: SCOPE_REFUSED,
        404: problem_response("no such sprint in scope"),
        422: problem_response("a parameter out of range, or no end date or history to forecast"),
    },
)
async def sprint_forecast(
    caller: Caller,
    session: Session,
    sprint_id: Annotated[
        str,
        Path(
            description="the id GET /v1/sprints gives out (or, as before there were ids, "
            "the tool's sprint id)"
        ),
    ],
    scope: ScopeParam,
    trials: Trials = 10_000,
    seed: Seed = 0,
    window_weeks: WindowWeeks = 26,
) -> SprintForecastReply:
    """The chance a sprint's remaining items are done by its end, from the scope's throughput
    and each in-progress item's age. Answers 422 when the sprint has no end date."""
    options = _options(trials, seed, window_weeks, 1.0)
    return await service.forecast_sprint(
        session, caller.tenant(PER_TENANT), scope, sprint_id, options, datetime.now(UTC)
    )


@router.get("/forecasts/history", response_model=HistoryReply, summary="Throughput and cycle time")
async def history(
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    item_types: ItemTypes = None,
    window_weeks: Annotated[
        int, Query(ge=1, le=520, description="how many completed weeks to report")
    ] = 26,
    started: Annotated[
        list[str] | None, Query(description="statuses or categories; default in_progress")
    ] = None,
    done: Annotated[
        list[str] | None, Query(description="statuses or categories; default done")
    ] = None,
) -> HistoryReply:
    """The scope's weekly and daily throughput and its cycle-time percentiles per item type,
    over its completed weeks: what forecasts sample from."""
    return await service.history(
        session,
        caller.tenant(PER_TENANT),
        scope,
        item_types,
        window_weeks,
        started or ["in_progress"],
        done or ["done"],
        datetime.now(UTC).date(),
    )

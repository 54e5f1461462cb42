"""Forecast use cases: read the projection, run the pure domain, shape the reply."""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.contracts.events.platform import NotificationRaised, WorkItemFlaggedStale
from sextant.forecast.db import reads, repository
from sextant.forecast.domain import choice
from sextant.forecast.domain import stale as stale_domain
from sextant.forecast.domain.calibration import CALIBRATION_TARGETS, WHEN_REACH, Kind
from sextant.forecast.domain.history import (
    Transition,
    cycle_time_days,
    finish_probability,
    throughput_by_day,
    throughput_by_week,
    week_start,
)
from sextant.forecast.domain.montecarlo import (
    ForecastOptions,
    sampled_options,
    sprint_completion_probability,
)
from sextant.forecast.schemas import (
    BacktestReply,
    CalibrationReport,
    CalibrationRow,
    CycleTimeSummary,
    HistoryReply,
    HowManyReply,
    Inputs,
    SprintForecastReply,
    StaleItem,
    StaleReply,
    WhenReply,
)
from sextant.runtime.errors import InvalidInput, NotFound, Unprocessable
from sextant.runtime.outbox import Outbox
from sextant.runtime.scope import QueryScope

BACKTEST_HORIZONS = (4, 12)
# Weeks of throughput a forecast reads: its window samples the latest 52, but whether the
# weeks look independent and how long past changes of pace lasted are read from all of
# them (montecarlo.sampled_options, level_persistence), as in bench_calibration.py.
HISTORY_WEEKS = 520
# Origins the backtest shown with a forecast scores: the latest two years' (every 4th
# week), each forecast from all the weeks before it.
BACKTEST_SPAN_WEEKS = 104
# How far ahead "how many by <date>" looks: five years, as far back as the longest sampling
# window reaches. Each week ahead costs a column per trial (memory and time), so a year-9999
# date would ask for gigabytes.
MAX_HORIZON_WEEKS = 260


async def weekly_history(
    session: AsyncSession,
    tenant: UUID,
    workspaces: list[UUID],
    item_types: list[str] | None,
    window_weeks: int,
    today: date,
) -> list[int]:
    """Completed weeks of throughput, oldest first, ending with last week. Weeks before the
    first completion are dropped: they predate the team's work, not a slow team."""
    last_week = week_start(today) - timedelta(days=7)
    first_week = last_week - timedelta(weeks=window_weeks - 1)
    since = datetime.combine(first_week, datetime.min.time(), tzinfo=UTC)
    done = await repository.done_per_week(session, tenant, workspaces, item_types, since)
    if not done:
        raise Unprocessable("no completed work items in this scope yet; forecasts need history")
    weekly = [done.get(first_week + timedelta(weeks=i), 0) for i in range(window_weeks)]
    first_active = next((i for i, count in enumerate(weekly) if count), None)
    if first_active is None:  # everything done so far was done this (unfinished) week
        raise Unprocessable("no completed week of work in this scope yet; forecasts need history")
    return weekly[first_active:]


def _calibration(
    history: list[int], options: ForecastOptions, kind: Kind, today: date
) -> CalibrationReport:
    """The rolling-origin backtest of ``kind`` on this history, each origin as its date."""
    reach = max(BACKTEST_HORIZONS) * (WHEN_REACH if kind == "when" else 1)
    needed = options.window_weeks + reach
    if len(history) < needed:
        return CalibrationReport(
            kind=kind,
            available=False,
            reason=(
                f"needs {needed} weeks of history to backtest {kind.replace('_', '-')} "
                f"forecasts; this scope has {len(history)}"
            ),
        )
    first_origin = max(options.window_weeks, len(history) - reach - BACKTEST_SPAN_WEEKS)
    rows = choice.backtest(
        history,
        BACKTEST_HORIZONS,
        kind=kind,
        options=replace(options, trials=choice.PAST_TRIALS),
        first_origin=first_origin,
    )
    # history[-1] is last week, so origin i (forecast made before week i) is this Monday
    # less len(history) - i weeks
    this_week = week_start(today)

    def origin_date(index: int) -> date:
        return this_week - timedelta(weeks=len(history) - index)

    return CalibrationReport(
        kind=kind,
        available=True,
        rows=[
            CalibrationRow(
                horizon_weeks=r.horizon_weeks,
                origins=r.origins,
                first_origin=origin_date(r.first_origin),
                last_origin=origin_date(r.last_origin),
                step_weeks=r.step_weeks,
                hit_share=r.hit_share,
                bands=r.bands,
                median_width=round(r.median_width, 2),
                mean_crps=round(r.mean_crps, 3),
            )
            for r in rows
        ],
    )


async def forecast_how_many(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    until: date,
    item_types: list[str] | None,
    options: ForecastOptions,
    today: date,
) -> HowManyReply:
    if until <= today:
        raise InvalidInput(f"until ({until}) must be after today ({today})")
    if (until - today).days > MAX_HORIZON_WEEKS * 7:
        raise InvalidInput(
            f"until ({until}) must lie within {MAX_HORIZON_WEEKS} weeks of today ({today})"
        )
    workspaces = scope.workspaces
    # Calibration needs more history than the sampling window: read window + 12 weeks + slack.
    history = await weekly_history(session, tenant, workspaces, item_types, HISTORY_WEEKS, today)
    horizon = -(-(until - today).days // 7)
    forecast = await asyncio.to_thread(choice.how_many, history, horizon, options)
    calibration = await asyncio.to_thread(_calibration, history, options, "how_many", today)
    return HowManyReply(
        until=until,
        horizon_weeks=horizon,
        percentiles=forecast.percentiles,
        curve=forecast.curve,
        inputs=Inputs(
            scope=scope.text,
            item_types=item_types,
            history_weeks=history[-options.window_weeks :],
            options=forecast.options,
            model=forecast.model,
        ),
        calibration=calibration,
    )


async def forecast_when(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    items: int,
    item_types: list[str] | None,
    options: ForecastOptions,
    today: date,
    max_weeks: int = 104,
) -> WhenReply:
    workspaces = scope.workspaces
    history = await weekly_history(session, tenant, workspaces, item_types, HISTORY_WEEKS, today)
    forecast = await asyncio.to_thread(choice.when, history, items, options, max_weeks)
    calibration = await asyncio.to_thread(_calibration, history, options, "when", today)

    def to_date(weeks: float | None) -> date | None:
        # the day the fractional week falls in, rounded up: "done by" that day
        return None if weeks is None else today + timedelta(days=math.ceil(weeks * 7 - 1e-9))

    return WhenReply(
        items=items,
        percentiles={p: to_date(w) for p, w in forecast.percentiles.items()},
        percentile_weeks=forecast.percentiles,
        curve=[(today + timedelta(weeks=w), p) for w, p in forecast.curve],
        done_within_horizon=forecast.done_within_horizon,
        inputs=Inputs(
            scope=scope.text,
            item_types=item_types,
            history_weeks=history[-options.window_weeks :],
            options=forecast.options,
            model=forecast.model,
        ),
        calibration=calibration,
    )


async def _assessed(
    session: AsyncSession, tenant: UUID, workspaces: list[UUID], now: datetime
) -> list[tuple[repository.InProgressItem, float, stale_domain.StaleVerdict]]:
    """Every in-progress item in scope that is stale now, with its age and verdict."""
    durations = await repository.state_durations(session, tenant, workspaces)
    found = []
    for item in await repository.in_progress(session, tenant, workspaces):
        age = (now - item.state_since).total_seconds() / 86400
        past = durations.get((item.item_type, item.status), [])
        verdict = stale_domain.assess(item.status, age, past)
        if verdict.stale:
            found.append((item, age, verdict))
    return found


async def announce_newly_stale(
    session: AsyncSession, outbox: Outbox, tenant: UUID, workspace: UUID, now: datetime
) -> int:
    """Raise one flag, and one notification for managers, per item per state it went
    stale in (a transition clears the mark; a dismissal silences the item)."""
    announced = 0
    for item, age, verdict in await _assessed(session, tenant, [workspace], now):
        if item.stale_flagged_at is not None or item.stale_dismissed_at is not None:
            continue
        await repository.mark_flagged(session, tenant, workspace, item.key, now)
        entity = f"work_item:{item.key}"
        flag = WorkItemFlaggedStale(
            work_item_key=item.key,
            state=item.status,
            age_days=round(age, 2),
            percentile=verdict.percentile,
            score=verdict.score,
            explanation=verdict.explanation,
        )
        notice = NotificationRaised(
            notification_id=uuid7(),
            severity="warning",
            audience=["manager", "tenant_admin"],
            title=f"{item.key} looks stuck in {item.status}",
            body=verdict.explanation,
            raised_by="forecast",
        )
        for event in (flag, notice):
            await outbox.add(
                session, event, tenant_id=tenant, workspace_id=workspace, entity=entity
            )
        announced += 1
    return announced


async def stale_items(
    session: AsyncSession, tenant: UUID, scope: QueryScope, now: datetime
) -> StaleReply:
    flagged, dismissed = [], 0
    for item, age, verdict in await _assessed(session, tenant, scope.workspaces, now):
        if item.stale_dismissed_at is not None:
            dismissed += 1
            continue
        flagged.append(
            StaleItem(
                workspace_id=str(item.workspace_id),
                key=item.key,
                title=item.title,
                item_type=item.item_type,
                status=item.status,
                age_days=round(age, 2),
                percentile=verdict.percentile,
                score=verdict.score,
                explanation=verdict.explanation,
            )
        )
    return StaleReply(scope=scope.text, items=flagged, dismissed=dismissed)


async def forecast_sprint(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    sprint_id: str,
    options: ForecastOptions,
    now: datetime,
) -> SprintForecastReply:
    """``sprint_id`` is the id GET /v1/sprints gives out or, as before there was one, the
    tool's sprint id (found in whichever of the scope's workspaces holds it)."""
    workspaces, source_id = scope.workspaces, sprint_id
    listed = await _listed_sprint(session, tenant, scope, sprint_id, now)
    if listed is not None:
        workspaces, source_id = [listed.workspace_id], listed.source_sprint_id
    found = [
        (workspace, state)
        for workspace in workspaces
        if (state := await repository.sprint_state(session, tenant, workspace, source_id))
    ]
    if not found:
        raise NotFound(f"no sprint {sprint_id!r} in {scope.text}", parameter="sprint_id")
    workspace, state = found[0]
    if listed is None:
        listed = await reads.sprint_by_source(session, tenant, workspace, source_id, now)
    if state.ends_at is None:
        raise Unprocessable(f"sprint {sprint_id!r} has no end date to forecast against")
    history = await weekly_history(session, tenant, [workspace], None, HISTORY_WEEKS, now.date())
    cycle = await repository.cycle_times(session, tenant, [workspace])
    remaining_days = max((state.ends_at - now).total_seconds() / 86400, 0.0)
    finish = [
        finish_probability((now - since).total_seconds() / 86400, remaining_days, cycle)
        for since in state.in_progress_since
    ]
    sampled, model = sampled_options(history, options)
    probability = await asyncio.to_thread(
        sprint_completion_probability,
        history,
        weeks_left=remaining_days / 7,
        not_started=state.not_started,
        in_progress_finish_probabilities=finish,
        options=sampled,
    )
    return SprintForecastReply(
        id=listed.id,
        sprint_id=source_id,
        name=state.name,
        ends_at=state.ends_at,
        probability_done=round(probability, 4),
        remaining={
            "not_started": state.not_started,
            "in_progress": len(finish),
            "done": state.done,
        },
        in_progress_finish_probabilities=[round(p, 4) for p in finish],
        inputs=Inputs(
            scope=scope.text,
            item_types=None,
            history_weeks=history[-options.window_weeks :],
            options=asdict(sampled),
            model=model,
        ),
    )


async def _listed_sprint(
    session: AsyncSession, tenant: UUID, scope: QueryScope, sprint_id: str, now: datetime
) -> reads.SprintRow | None:
    """The sprint with this API's id ``sprint_id`` in scope; None when it is no such id."""
    try:
        as_id = UUID(sprint_id)
    except ValueError:
        return None
    return await reads.sprint(session, tenant, scope.workspaces, as_id, now)


async def calibration_for(
    session: AsyncSession, tenant: UUID, scope: QueryScope, options: ForecastOptions, today: date
) -> BacktestReply:
    history = await weekly_history(session, tenant, scope.workspaces, None, HISTORY_WEEKS, today)
    report = await asyncio.to_thread(_calibration, history, options, "how_many", today)
    when_report = await asyncio.to_thread(_calibration, history, options, "when", today)
    return BacktestReply(
        scope=scope.text,
        calibration=report,
        when_calibration=when_report,
        targets=CALIBRATION_TARGETS,
    )


async def history(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    item_types: list[str] | None,
    window_weeks: int,
    started: list[str],
    done: list[str],
    today: date,
) -> HistoryReply:
    """Weekly throughput and cycle-time percentiles per item type, by the caller's
    definition of "started" and "done" (status names or categories)."""
    workspaces = scope.workspaces
    started_set, done_set = frozenset(started), frozenset(done)
    by_type: dict[str, list[float]] = {}
    done_at: list[datetime] = []
    for (item_type, _key), steps in (
        await repository.histories(session, tenant, workspaces, item_types)
    ).items():
        spells = [
            Transition(at=at, status=status, category=category) for at, status, category in steps
        ]
        days = cycle_time_days(spells, started=started_set, done=done_set)
        if days is not None:
            by_type.setdefault(item_type, []).append(days)
            done_at.append(spells[-1].at)
    last_week = week_start(today) - timedelta(days=7)
    first_week = last_week - timedelta(weeks=window_weeks - 1)
    return HistoryReply(
        scope=scope.text,
        started=sorted(started_set),
        done=sorted(done_set),
        weeks=[first_week + timedelta(weeks=i) for i in range(window_weeks)],
        throughput=throughput_by_week(done_at, first_week, last_week),
        days=[first_week + timedelta(days=i) for i in range(window_weeks * 7)],
        daily_throughput=throughput_by_day(done_at, first_week, last_week + timedelta(days=6)),
        cycle_time=[
            CycleTimeSummary(
                item_type=item_type,
                items=len(days),
                percentiles_days={p: round(float(np.percentile(days, p)), 2) for p in (50, 85, 95)},
            )
            for item_type, days in sorted(by_type.items())
        ],
    )

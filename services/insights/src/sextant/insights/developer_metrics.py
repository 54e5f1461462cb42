"""A developer's trends (weekly series, change tests, flow efficiency against their own
history; domain/trends.py does the sums) and the tenant's switch for per-developer metrics.

Who may see a developer: see privacy.py (admins everyone, managers their teams' developers,
members themselves, through the user a tenant admin linked to a developer in identity). A
tenant admin can turn per-developer metrics off for the tenant: then every trends call
answers 403 saying so, and no MetricsComputed is published.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sextant.insights import privacy
from sextant.insights.db import developer_days
from sextant.insights.domain import trends
from sextant.runtime.app import Session, State
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import Forbidden, NotFound, problem_response
from sextant.runtime.tabular import CSV_MEDIA_TYPE, csv_text, wants_csv
from sextant.runtime.tokens import Caller, InternalClaims

router = APIRouter(prefix="/v1", tags=["developer metrics"])

SETS_THE_SWITCH = frozenset({"tenant_admin", "platform_admin"})
HISTORY_WEEKS = trends.BASELINE_WEEKS + max(trends.WINDOWS)  # the 52-week window's baseline too
SERIES_WEEKS = max(trends.WINDOWS)
OFF = (
    "per-developer metrics are turned off for this tenant; a tenant admin can turn them on "
    "with PUT /v1/metrics/developer-settings"
)

Responses = dict[int | str, dict[str, Any]]


PER_TENANT = "developer metrics are per tenant"  # why a call needs a tenant, in its 400


# trends -------------------------------------------------------------------------------------


class WeekView(BaseModel):
    week_start: date = Field(description="first day of the seven (UTC)")
    active_days: int = Field(description="days with a commit, opening, merge or review")
    commits: int
    changes_opened: int
    changes_merged: int
    reviews_given: int = Field(description="reviews of others' change requests")
    review_latency_hours: float | None = Field(
        description="mean time from a change's opening to this developer's first review of it"
    )
    cycle_time_p50_hours: float | None = Field(
        description="median first commit (else opening) to merge of the changes merged"
    )
    wip: int | None = Field(description="open change requests at the end of the last active day")


class ChangeTestView(BaseModel):
    u: float = Field(description="Mann-Whitney U of the recent weeks")
    expected_u: float = Field(description="U expected when nothing changed (n1 * n2 / 2)")
    p_value: float


class MetricTrendView(BaseModel):
    metric: str
    recent_median: float | None = Field(description="median week of the window")
    baseline_median: float | None = Field(description="median week of the baseline")
    recent_weeks: int = Field(description="weeks of the window with a value")
    baseline_weeks: int = Field(description="weeks of the baseline with a value")
    test: ChangeTestView | None = Field(
        description="null when the window has fewer than 3 or the baseline fewer than 8 weeks "
        "with a value"
    )
    arrow: Literal["up", "down"] | None = Field(description="only when p < 0.05")
    better: bool | None = Field(description="whether the arrow points the good way")


class WindowView(BaseModel):
    weeks: int = Field(description="4, 13 or 52: the last weeks tested against the 52 before")
    flow_efficiency: float | None = Field(
        description="0-100 against the developer's own baseline, 50 = as usual; null "
        "without 8 baseline weeks"
    )
    flow_components: dict[str, float] = Field(
        description="each measure's percentile in the baseline, turned so higher is better"
    )
    metrics: list[MetricTrendView]


class TrendsReply(BaseModel):
    """A developer's last 52 weeks and their trends; never a ranking of developers."""

    developer_id: UUID = Field(description="the developer asked for, as it reads now")
    until: date = Field(description="end of the last week, excluded")
    change_test: str
    flow_efficiency: str
    weeks: list[WeekView] = Field(description="the last 52 weeks, oldest first")
    windows: list[WindowView]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "developer_id": "0190f5c2-dddd-7000-8000-000000000000",
                    "until": "2026-03-09",
                    "change_test": "Mann-Whitney U, two-sided, last N weeks vs the 52 before",
                    "flow_efficiency": "mean percentile of the window's median week in the "
                    "developer's own baseline",
                    "weeks": [
                        {
                            "week_start": "2026-03-02",
                            "active_days": 3,
                            "commits": 9,
                            "changes_opened": 2,
                            "changes_merged": 2,
                            "reviews_given": 4,
                            "review_latency_hours": 3.5,
                            "cycle_time_p50_hours": 20.0,
                            "wip": 1,
                        }
                    ],
                    "windows": [
                        {
                            "weeks": 4,
                            "flow_efficiency": 62.5,
                            "flow_components": {"changes_merged": 75.0, "wip": 50.0},
                            "metrics": [
                                {
                                    "metric": "changes_merged",
                                    "recent_median": 2.0,
                                    "baseline_median": 1.0,
                                    "recent_weeks": 4,
                                    "baseline_weeks": 52,
                                    "test": {"u": 180.0, "expected_u": 104.0, "p_value": 0.01},
                                    "arrow": "up",
                                    "better": True,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )


def _week(w: trends.Week) -> WeekView:
    return WeekView(
        week_start=w.start,
        active_days=w.active_days,
        commits=w.commits,
        changes_opened=w.changes_opened,
        changes_merged=w.changes_merged,
        reviews_given=w.reviews_given,
        review_latency_hours=w.review_latency_hours,
        cycle_time_p50_hours=w.cycle_time_p50_hours,
        wip=w.wip,
    )


def _window(w: trends.WindowTrend) -> WindowView:
    return WindowView(
        weeks=w.weeks,
        flow_efficiency=w.flow_efficiency,
        flow_components=w.flow_components,
        metrics=[
            MetricTrendView(
                metric=m.metric,
                recent_median=m.recent_median,
                baseline_median=m.baseline_median,
                recent_weeks=m.recent_weeks,
                baseline_weeks=m.baseline_weeks,
                test=None
                if m.test is None
                else ChangeTestView(
                    u=m.test.u, expected_u=m.test.expected_u, p_value=m.test.p_value
                ),
                arrow="up" if m.arrow == "up" else "down" if m.arrow == "down" else None,
                better=m.better,
            )
            for m in w.metrics
        ],
    )


def this_week(today: date) -> date:
    """The Monday starting ``today``'s week: the default end, so every week is complete."""
    return today - timedelta(days=today.weekday())


async def may_see_developers(session: Session, caller: InternalClaims) -> UUID:
    """The caller's tenant, when per-developer metrics are on for it (else 403 saying so)."""
    tenant = caller.tenant(PER_TENANT)
    if caller.role not in privacy.SEES_EVERYTHING | privacy.SEES_THEIR_TEAMS:
        raise Forbidden(f"role '{caller.role}' may not see a developer's metrics")
    if not await developer_days.developer_metrics_enabled(session, tenant):
        raise Forbidden(OFF)
    return tenant


TRENDS_RESPONSES: Responses = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The trends as JSON, or the weekly series as CSV rows when Accept "
        "prefers text/csv.",
    },
    400: problem_response("the call names no tenant"),
    403: problem_response(
        "the caller may not see this developer (see the privacy rules), or the tenant turned "
        "per-developer metrics off"
    ),
    404: problem_response("no such developer"),
    422: problem_response("a parameter of the wrong type (named in the detail)"),
}


@router.get(
    "/developers/{developer_id}/trends",
    response_model=TrendsReply,
    summary="A developer's weekly history and trends against their own past",
    description="The last 52 weeks of a developer's figures (from the daily DeveloperMetrics "
    "history), and over the last 4, 13 and 52 weeks a Mann-Whitney U test per metric against "
    "the 52 weeks before (an arrow only when p < 0.05) and a composite flow efficiency, 50 "
    "meaning as usual for them. A merged developer answers as the one it was merged into. "
    "Tenant admins see every developer, managers their teams' developers, members their own "
    "history (the developer linked to their user); Accept: text/csv for the weekly series.",
    responses=TRENDS_RESPONSES,
)
async def get_trends(
    request: Request,
    caller: Caller,
    session: Session,
    developer_id: Annotated[UUID, Path(description="the developer (identity's id)")],
    until: Annotated[
        date | None,
        Query(
            description="end of the last week, excluded (a date); default: the Monday "
            "starting the current week, so every week is complete"
        ),
    ] = None,
) -> BaseModel | Response:
    tenant = await may_see_developers(session, caller)
    end = until or this_week(datetime.now(UTC).date())
    current = (await developer_days.current_ids(session, tenant, [developer_id]))[developer_id]
    # Who may look first: a member or manager learns nothing about ids they may not see,
    # not even whether they exist.
    await privacy.check_developer(session, tenant, caller, current)
    if not await developer_days.known_developer(session, tenant, current):
        raise NotFound(f"no developer {developer_id} in this tenant", parameter="developer_id")
    rows = await developer_days.history(
        session, tenant, current, end - timedelta(weeks=HISTORY_WEEKS), end
    )
    series = trends.weekly([(r.day, r.figures) for r in rows], end, HISTORY_WEEKS)
    shown = [_week(w) for w in series[-SERIES_WEEKS:]]
    if wants_csv(request.headers.get("accept")):
        return Response(csv_text(shown, WeekView), media_type=CSV_MEDIA_TYPE)
    return TrendsReply(
        developer_id=current,
        until=end,
        change_test="Mann-Whitney U, two-sided, of the last N weekly values against the 52 "
        "weeks before them (from the first active week), alpha 0.05, normal approximation "
        "with tie and continuity corrections",
        flow_efficiency="mean over changes merged, reviews given, cycle time, review latency "
        "and WIP of the percentile the window's median week takes among the baseline weeks, "
        "turned so higher is better; 50 = as usual for this developer",
        weeks=shown,
        windows=[_window(trends.window_trend(series, n)) for n in trends.WINDOWS],
    )


# the tenant's switch -----------------------------------------------------------------------


class DeveloperSettings(BaseModel):
    """Whether the tenant shows per-developer metrics at all."""

    developer_metrics_enabled: bool = Field(
        description="false: trends answer 403 and no per-developer MetricsComputed is published"
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"developer_metrics_enabled": False}]}
    )


@router.get(
    "/metrics/developer-settings",
    response_model=DeveloperSettings,
    summary="Whether per-developer metrics are on for the tenant",
    responses={400: problem_response("the call names no tenant")},
)
async def get_developer_settings(caller: Caller, session: Session) -> DeveloperSettings:
    """On unless a tenant admin turned them off."""
    enabled = await developer_days.developer_metrics_enabled(session, caller.tenant(PER_TENANT))
    return DeveloperSettings(developer_metrics_enabled=enabled)


@router.put(
    "/metrics/developer-settings",
    response_model=DeveloperSettings,
    summary="Turn per-developer metrics on or off for the tenant (audited)",
    responses={
        400: problem_response("the call names no tenant"),
        403: problem_response("only a tenant admin may change it"),
        422: problem_response("the body is not a settings object (the field is named)"),
    },
)
async def put_developer_settings(
    body: DeveloperSettings, caller: Caller, session: Session, state: State
) -> DeveloperSettings:
    """Tenant admins only; the change goes to the gateway's audit log."""
    tenant = caller.tenant(PER_TENANT)
    if caller.role not in SETS_THE_SWITCH:
        raise Forbidden(f"role '{caller.role}' may not change this; it needs tenant_admin")
    enabled = body.developer_metrics_enabled
    before = await developer_days.set_developer_metrics_enabled(
        session, tenant, enabled, caller.sub, datetime.now(UTC)
    )
    audited = config_change(
        caller.sub,
        "insights.developer_metrics.set",
        ("tenant", tenant),
        before={"developer_metrics_enabled": before},
        after={"developer_metrics_enabled": enabled},
    )
    await record_change(session, state.outbox, tenant, audited)
    return body

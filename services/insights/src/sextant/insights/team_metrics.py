"""The team scope: a team's figures per UTC day or week, summed from the DeveloperMetrics days
of the developers who were in the team on each day (domain/teams.py does the sums, db/teams.py
picks the rows; privacy.py says who may ask)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights import privacy
from sextant.insights.db import teams
from sextant.insights.db.developer_days import day_start
from sextant.insights.domain import flow
from sextant.insights.domain import teams as team_sums
from sextant.insights.metrics import metric_range
from sextant.runtime.app import Session
from sextant.runtime.errors import Gone, InvalidInput, NotFound, problem_response
from sextant.runtime.tabular import CSV_MEDIA_TYPE, csv_text, wants_csv
from sextant.runtime.tokens import Caller

router = APIRouter(prefix="/v1", tags=["team metrics"])

MOST_PERIODS = 400
DEFAULT_DAYS = 28
MEMBERSHIP_RULE = (
    "a developer's day counts for the teams they were a member of on that day (starts_on to "
    "ends_on, both included); memberships read as the developer reads now, so a merge brings "
    "the merged developer's memberships along"
)


class TeamPeriod(BaseModel):
    """A team's figures over one period (or the whole range)."""

    period: Literal["total", "day", "week"]
    start: date = Field(description="first UTC day of the period")
    end: date = Field(description="the day after the period's last")
    developers: int = Field(description="distinct developers counted (members with activity)")
    developer_days: int = Field(description="member days with activity behind the figures")
    commits: int
    changes_opened: int
    changes_merged: int
    reviews_given: int = Field(description="reviews of others' change requests")
    review_latency_count: int = Field(description="first reviews behind the latency")
    review_latency_hours: float | None = Field(
        description="mean time from a change's opening to a member's first review of it"
    )
    cycle_time_count: int = Field(description="changes merged behind the percentiles")
    cycle_time_p50_hours: float | None = Field(
        description="median first commit (else opening) to merge of the members' merges"
    )
    cycle_time_p85_hours: float | None
    wip: int = Field(
        description="sum over the developers counted of their open change requests at the end "
        "of their last active day of the period"
    )


class TeamMetricsReply(BaseModel):
    """A team's figures in total and per period, with the rule that made them."""

    team_id: UUID
    team_name: str | None = Field(description="null when identity has not announced it yet")
    since: date
    until: date = Field(description="excluded")
    granularity: Literal["day", "week"]
    include_bots: bool
    membership_rule: str
    total: TeamPeriod
    periods: list[TeamPeriod]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "team_id": "0190f5c2-eeee-7000-8000-000000000000",
                    "team_name": "Payments",
                    "since": "2026-03-02",
                    "until": "2026-03-04",
                    "granularity": "day",
                    "include_bots": False,
                    "membership_rule": MEMBERSHIP_RULE,
                    "total": {
                        "period": "total",
                        "start": "2026-03-02",
                        "end": "2026-03-04",
                        "developers": 2,
                        "developer_days": 3,
                        "commits": 7,
                        "changes_opened": 2,
                        "changes_merged": 2,
                        "reviews_given": 1,
                        "review_latency_count": 1,
                        "review_latency_hours": 2.5,
                        "cycle_time_count": 2,
                        "cycle_time_p50_hours": 3.0,
                        "cycle_time_p85_hours": 3.7,
                        "wip": 1,
                    },
                    "periods": [],
                }
            ]
        }
    )


def _view(period: Literal["total", "day", "week"], f: team_sums.TeamFigures) -> TeamPeriod:
    return TeamPeriod(
        period=period,
        start=f.start,
        end=f.end,
        developers=f.developers,
        developer_days=f.developer_days,
        commits=f.commits,
        changes_opened=f.changes_opened,
        changes_merged=f.changes_merged,
        reviews_given=f.reviews_given,
        review_latency_count=f.review_latency_count,
        review_latency_hours=f.review_latency_hours,
        cycle_time_count=f.cycle_time_count,
        cycle_time_p50_hours=f.cycle_time_p50_hours,
        cycle_time_p85_hours=f.cycle_time_p85_hours,
        wip=f.wip,
    )


def day_periods(
    since: date, until: date, granularity: flow.Granularity
) -> list[team_sums.DayPeriod]:
    """``[since, until)`` cut as the flow metrics cut it (days or 7-day weeks from since,
    the last one shorter); refused (400) when longer than three years or
    :data:`MOST_PERIODS` periods."""
    start, end = metric_range(day_start(since), day_start(until))
    if (end - start) / flow.STEP[granularity] > MOST_PERIODS:
        raise InvalidInput(
            f"the range holds more than {MOST_PERIODS} periods of a {granularity.value}; "
            "use granularity=week or a shorter range",
            parameter="granularity",
        )
    return [(a.date(), b.date()) for a, b in flow.periods(start, end, granularity)]


async def team_or_error(
    session: AsyncSession, tenant: UUID, team_id: UUID, parameter: str = "team"
) -> teams.Team:
    """The live team; 404 naming ``parameter`` when this tenant has none such, 410 when
    deleted."""
    team = await teams.get_team(session, tenant, team_id)
    if team is None:
        raise NotFound(f"no team {team_id} in this tenant", parameter=parameter)
    if team.deleted:
        raise Gone(f"team {team_id} was deleted", parameter=parameter)
    return team


def earliest_day(until: date) -> date:
    """The default ``since``: :data:`DEFAULT_DAYS` before ``until`` (or the first day there is)."""
    return max(until, date.min + timedelta(days=DEFAULT_DAYS)) - timedelta(days=DEFAULT_DAYS)


Responses = dict[int | str, dict[str, Any]]
TEAM_RESPONSES: Responses = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The figures as JSON, or as CSV (the total, then one row per period) "
        "when Accept prefers text/csv.",
    },
    400: problem_response(
        "the call names no tenant, since is not before until, or the range is over three "
        "years or 400 periods (the parameter is named)"
    ),
    403: problem_response("the caller may not see this team (see the privacy rules)"),
    404: problem_response("no such team in this tenant"),
    410: problem_response("the team was deleted"),
    422: problem_response("a parameter of the wrong type (named in the detail)"),
}


@router.get(
    "/teams/{team_id}/metrics",
    response_model=TeamMetricsReply,
    summary="A team's figures per day or week, from its members' daily history",
    description="Commits, change requests opened and merged, reviews given, review latency, "
    "cycle time (median and P85) and WIP of the developers who were in the team on each day "
    "(identity's dated memberships; a developer who moved counts for their old team before "
    "and the new one after), over [since, until) in UTC days. Tenant admins see every team; "
    "managers and members the teams of the developer linked to their user. Accept: text/csv "
    "for rows.",
    responses=TEAM_RESPONSES,
)
async def get_team_metrics(
    request: Request,
    caller: Caller,
    session: Session,
    team_id: Annotated[UUID, Path(description="the team (identity's id)")],
    since: Annotated[
        date | None,
        Query(description="first UTC day, included; default: 28 days before until"),
    ] = None,
    until: Annotated[
        date | None,
        Query(description="UTC day after the last one, excluded; default: tomorrow (today in)"),
    ] = None,
    granularity: Annotated[
        Literal["day", "week"],
        Query(description="day or week: the periods, cut from since (the last may be shorter)"),
    ] = "week",
    include_bots: Annotated[
        bool, Query(description="count developers identity knows as bots too")
    ] = False,
) -> BaseModel | Response:
    tenant = caller.tenant("team metrics are per tenant")
    end = until or datetime.now(UTC).date() + timedelta(days=1)
    start = since or earliest_day(end)
    cut = day_periods(start, end, flow.Granularity(granularity))
    team = await team_or_error(session, tenant, team_id, "team_id")
    await privacy.check_team(session, tenant, caller, team_id)
    rows = await teams.member_days(session, tenant, team_id, start, end, include_bots)
    reply = TeamMetricsReply(
        team_id=team_id,
        team_name=team.name,
        since=start,
        until=end,
        granularity=granularity,
        include_bots=include_bots,
        membership_rule=MEMBERSHIP_RULE,
        total=_view("total", team_sums.figures(rows, start, end)),
        periods=[_view(granularity, f) for f in team_sums.series(rows, cut)],
    )
    if wants_csv(request.headers.get("accept")):
        return Response(
            csv_text([reply.total, *reply.periods], TeamPeriod), media_type=CSV_MEDIA_TYPE
        )
    return reply

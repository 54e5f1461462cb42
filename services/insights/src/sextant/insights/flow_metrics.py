"""The flow and review routes: where change requests' time goes and how reviews are shared,
for a scope over a range, in total and per day or week, with the counts behind every number
(domain/flow.py does the sums and states the definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import reads
from sextant.insights.domain import flow
from sextant.insights.metrics import EXAMPLE_WORKSPACE, HOURS, metric_range
from sextant.insights.team_metrics import team_or_error
from sextant.runtime.app import Session
from sextant.runtime.errors import InvalidInput, problem_response
from sextant.runtime.paging import Moment
from sextant.runtime.scope import QueryScope, ScopeParam
from sextant.runtime.tabular import CSV_MEDIA_TYPE, csv_text, wants_csv
from sextant.runtime.tokens import Caller

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

MOST_PERIODS = 400
GranularityName = Literal["day", "week"]
PeriodName = Literal["total", "day", "week"]


# shared parts -------------------------------------------------------------------------


class DurationFigure(BaseModel):
    count: int = Field(description="how many durations the figures are taken over")
    median_hours: float | None
    p85_hours: float | None


class CountFigure(BaseModel):
    count: int = Field(description="how many values the figures are taken over")
    median: float | None
    p85: float | None


def _hours(spread: flow.Spread) -> DurationFigure:
    return DurationFigure(
        count=spread.count,
        median_hours=None if spread.median is None else spread.median / HOURS,
        p85_hours=None if spread.p85 is None else spread.p85 / HOURS,
    )


def _counts(spread: flow.Spread) -> CountFigure:
    return CountFigure(count=spread.count, median=spread.median, p85=spread.p85)


class MetricRow(BaseModel):
    """One number of one period as a CSV row."""

    period: PeriodName
    start: datetime
    end: datetime
    metric: str
    reviewer: UUID | None
    count: int | None
    median: float | None
    p85: float | None
    value: float | None
    unit: str


def _duration_row(
    period: PeriodName, start: datetime, end: datetime, metric: str, d: DurationFigure
) -> MetricRow:
    return MetricRow(
        period=period,
        start=start,
        end=end,
        metric=metric,
        reviewer=None,
        count=d.count,
        median=d.median_hours,
        p85=d.p85_hours,
        value=None,
        unit="hours",
    )


def _value_row(
    period: PeriodName,
    start: datetime,
    end: datetime,
    metric: str,
    value: float | None,
    unit: str,
    count: int | None = None,
    reviewer: UUID | None = None,
) -> MetricRow:
    return MetricRow(
        period=period,
        start=start,
        end=end,
        metric=metric,
        reviewer=reviewer,
        count=count,
        median=None,
        p85=None,
        value=value,
        unit=unit,
    )


def _count_row(
    period: PeriodName, start: datetime, end: datetime, metric: str, count: int, unit: str
) -> MetricRow:
    return _value_row(period, start, end, metric, None, unit, count=count)


METRIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_response(
        "a bad scope, since not before until, a range over three years, or more than 400 "
        "periods (use granularity=week)"
    ),
    404: problem_response("the team filter names no team of this tenant"),
    410: problem_response("the team filter names a deleted team"),
    422: problem_response("a parameter of the wrong type or out of range (named in the detail)"),
}

Since = Annotated[
    Moment | None,
    Query(
        description="start of the range, included (ISO 8601 with an offset); "
        "default: 28 days before until"
    ),
]
Until = Annotated[
    Moment | None,
    Query(description="end of the range, excluded (ISO 8601 with an offset); default: now"),
]
GranularityParam = Annotated[
    GranularityName,
    Query(description="day or week: the periods, cut from since (the last may be shorter)"),
]
IncludeBots = Annotated[
    bool,
    Query(description="count changes authored by bots, and bots' reviews in reviewer load"),
]
Developer = Annotated[
    UUID | None,
    Query(
        description="only this developer's changes (as author) and work items (as assignee); "
        "those merged into it included"
    ),
]

TeamFilter = Annotated[
    UUID | None,
    Query(
        description="only the team's: changes whose author was in the team on the day they "
        "merged (else opened), work items whose assignee was in it on the day they were done"
    ),
]


class Selection:
    """What a call asked for, checked, and the periods it cuts the range into."""

    def __init__(
        self,
        caller: Caller,
        scope: QueryScope,
        since: datetime | None,
        until: datetime | None,
        granularity: GranularityName,
        include_bots: bool,
        developer: UUID | None,
        team: UUID | None = None,
    ) -> None:
        self.tenant: UUID = caller.tenant("metrics are per tenant")
        self.scope = scope
        self.since, self.until = metric_range(since, until)
        self.granularity = flow.Granularity(granularity)
        if (self.until - self.since) / flow.STEP[self.granularity] > MOST_PERIODS:
            raise InvalidInput(
                f"the range holds more than {MOST_PERIODS} periods of a {granularity}; "
                "use granularity=week or a shorter range",
                parameter="granularity",
            )
        self.periods = flow.periods(self.since, self.until, self.granularity)
        self.include_bots = include_bots
        self.developer = developer
        self.team = team

    async def filter(self, session: AsyncSession) -> reads.FlowFilter:
        if self.team is not None:
            await team_or_error(session, self.tenant, self.team)
        developers = (
            None
            if self.developer is None
            else await reads.developer_ids(session, self.tenant, self.developer)
        )
        return reads.FlowFilter(
            self.tenant,
            self.scope.workspaces,
            self.since,
            self.until,
            self.include_bots,
            developers,
            self.team,
        )


async def _changes(session: AsyncSession, f: reads.FlowFilter) -> list[flow.ChangeTimes]:
    return [
        flow.ChangeTimes(
            r.id,
            r.author_now,
            r.opened_at,
            r.first_commit_at,
            r.first_review_at,
            r.merged_at,
            r.deployed_at,
            r.commits or 0,
        )
        for r in await reads.flow_changes(session, f)
    ]


# flow ---------------------------------------------------------------------------------


class ChangeFlowView(BaseModel):
    merged: int = Field(description="change requests merged in the period")
    deployed: int = Field(description="of those, shipped by a production deployment")
    coding: DurationFigure = Field(description="first commit → opened")
    pickup: DurationFigure = Field(description="opened → first review by someone else")
    review: DurationFigure = Field(description="first review → merged")
    deploy: DurationFigure = Field(description="merged → the production deployment")
    cycle_time: DurationFigure = Field(description="first commit → production deployment")


class ItemFlowView(BaseModel):
    throughput: int = Field(description="work items that entered done in the period")
    cycle_time: DurationFigure = Field(description="first move into progress → done")
    wip: int = Field(description="work items in progress at the period's end")
    age: DurationFigure = Field(description="how long those had been in progress")


class FlowPeriod(BaseModel):
    start: datetime
    end: datetime
    change_requests: ChangeFlowView
    work_items: ItemFlowView


_DURATION_EXAMPLE = {"count": 2, "median_hours": 4.0, "p85_hours": 5.4}
_FLOW_PERIOD_EXAMPLE: dict[str, Any] = {
    "start": "2026-03-02T00:00:00Z",
    "end": "2026-03-09T00:00:00Z",
    "change_requests": {
        "merged": 2,
        "deployed": 2,
        "coding": _DURATION_EXAMPLE,
        "pickup": _DURATION_EXAMPLE,
        "review": _DURATION_EXAMPLE,
        "deploy": _DURATION_EXAMPLE,
        "cycle_time": _DURATION_EXAMPLE,
    },
    "work_items": {
        "throughput": 2,
        "cycle_time": _DURATION_EXAMPLE,
        "wip": 1,
        "age": _DURATION_EXAMPLE,
    },
}


class AnsweredQuery(BaseModel):
    """What every flow and review reply states it answered: the definition, the scope,
    the range and the choices, so a reader can check the figures."""

    definition_id: str
    definition_version: int
    scope: str
    since: datetime
    until: datetime
    granularity: GranularityName
    include_bots: bool
    developer: UUID | None = Field(description="the developer filter, if any")
    team: UUID | None = Field(default=None, description="the team filter, if any")


class FlowReply(AnsweredQuery):
    """Change-request phases and work-item flow of a scope, in total and per period."""

    total: FlowPeriod
    periods: list[FlowPeriod]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "definition_id": flow.DEFINITION_ID,
                    "definition_version": flow.DEFINITION_VERSION,
                    "scope": f"workspace:{EXAMPLE_WORKSPACE}",
                    "since": "2026-03-02T00:00:00Z",
                    "until": "2026-03-09T00:00:00Z",
                    "granularity": "week",
                    "include_bots": False,
                    "developer": None,
                    "total": _FLOW_PERIOD_EXAMPLE,
                    "periods": [_FLOW_PERIOD_EXAMPLE],
                }
            ]
        }
    )


def _flow_period(figures: flow.FlowFigures) -> FlowPeriod:
    c, w = figures.changes, figures.work_items
    return FlowPeriod(
        start=figures.start,
        end=figures.end,
        change_requests=ChangeFlowView(
            merged=c.merged,
            deployed=c.deployed,
            coding=_hours(c.coding),
            pickup=_hours(c.pickup),
            review=_hours(c.review),
            deploy=_hours(c.deploy),
            cycle_time=_hours(c.cycle_time),
        ),
        work_items=ItemFlowView(
            throughput=w.throughput, cycle_time=_hours(w.cycle_time), wip=w.wip, age=_hours(w.age)
        ),
    )


def flow_rows(reply: FlowReply) -> list[MetricRow]:
    """The reply as one row per number and period, the total first."""
    rows: list[MetricRow] = []
    named: list[tuple[PeriodName, FlowPeriod]] = [("total", reply.total)]
    named += [(reply.granularity, p) for p in reply.periods]
    for period, p in named:
        c, w = p.change_requests, p.work_items
        rows.append(_count_row(period, p.start, p.end, "changes_merged", c.merged, "changes"))
        rows.append(_count_row(period, p.start, p.end, "changes_deployed", c.deployed, "changes"))
        for metric in ("coding", "pickup", "review", "deploy", "cycle_time"):
            rows.append(_duration_row(period, p.start, p.end, metric, getattr(c, metric)))
        rows.append(_count_row(period, p.start, p.end, "work_items_done", w.throughput, "items"))
        rows.append(_duration_row(period, p.start, p.end, "work_item_cycle_time", w.cycle_time))
        rows.append(_count_row(period, p.start, p.end, "work_items_in_progress", w.wip, "items"))
        rows.append(_duration_row(period, p.start, p.end, "work_item_age", w.age))
    return rows


@router.get(
    "/flow",
    response_model=FlowReply,
    summary="Flow of a scope: change-request phases and work-item throughput, cycle time, WIP",
    description="Change-request cycle time split into coding, pickup, review and deploy "
    "(median and P85 in hours, with counts), for the changes merged in each period; "
    "work-item throughput, cycle time, work in progress and its age. In total over "
    "[since, until) and per day or week. Accept: text/csv for one row per number and period.",
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "period,start,end,metric,reviewer,count,median,p85,value,unit\n"
                    "total,2026-03-02T00:00:00+00:00,2026-03-09T00:00:00+00:00,pickup,,2,"
                    "4.0,5.4,,hours\n",
                }
            },
            "description": "The figures as JSON, or as CSV rows when Accept prefers text/csv.",
        },
        **METRIC_RESPONSES,
    },
)
async def get_flow_metrics(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    since: Since = None,
    until: Until = None,
    granularity: GranularityParam = "week",
    include_bots: IncludeBots = False,
    developer: Developer = None,
    team: TeamFilter = None,
) -> BaseModel | Response:
    chosen = Selection(caller, scope, since, until, granularity, include_bots, developer, team)
    f = await chosen.filter(session)
    changes = await _changes(session, f)
    items = [
        flow.WorkItem(r.id, r.started_at, r.done_at)
        for r in await reads.flow_work_items(session, f)
    ]
    reply = FlowReply(
        definition_id=flow.DEFINITION_ID,
        definition_version=flow.DEFINITION_VERSION,
        scope=scope.text,
        since=chosen.since,
        until=chosen.until,
        granularity=granularity,
        include_bots=include_bots,
        developer=developer,
        team=team,
        total=_flow_period(flow.flow(changes, items, chosen.since, chosen.until)),
        periods=[_flow_period(f) for f in flow.flow_series(changes, items, chosen.periods)],
    )
    if wants_csv(request.headers.get("accept")):
        return Response(csv_text(flow_rows(reply), MetricRow), media_type=CSV_MEDIA_TYPE)
    return reply


# review -------------------------------------------------------------------------------


class ReviewerLoadView(BaseModel):
    reviewer: UUID = Field(description="the reviewer's developer id (as it reads now)")
    reviews: int = Field(description="reviews given in the range")
    change_requests: int = Field(description="distinct change requests reviewed")
    share: float = Field(description="of all reviews given in the range")


class ConcentrationView(BaseModel):
    reviewers: int
    reviews: int
    top_share: float | None = Field(description="the busiest reviewer's share of the reviews")
    gini: float | None = Field(description="0: evenly shared; towards 1: one reviewer does all")


class RoundsView(CountFigure):
    unreviewed: int = Field(description="merged change requests without a review by another")


class ApprovalView(BaseModel):
    numerator: int = Field(description="merged without an approving review by another person")
    denominator: int = Field(description="merged change requests")
    rate: float | None


class ReviewPeriod(BaseModel):
    start: datetime
    end: datetime
    opened: int = Field(description="change requests opened in the period")
    time_to_first_review: DurationFigure = Field(
        description="opened → first review by someone else, of those opened in the period"
    )
    merged: int = Field(description="change requests merged in the period")
    review_rounds: RoundsView
    change_size: CountFigure = Field(description="commits per merged change request")
    merged_without_approval: ApprovalView
    reviewer_concentration: ConcentrationView


_REVIEW_PERIOD_EXAMPLE: dict[str, Any] = {
    "start": "2026-03-02T00:00:00Z",
    "end": "2026-03-09T00:00:00Z",
    "opened": 3,
    "time_to_first_review": {"count": 1, "median_hours": 2.5, "p85_hours": 2.5},
    "merged": 2,
    "review_rounds": {"count": 1, "median": 2.0, "p85": 2.0, "unreviewed": 1},
    "change_size": {"count": 2, "median": 2.0, "p85": 2.0},
    "merged_without_approval": {"numerator": 1, "denominator": 2, "rate": 0.5},
    "reviewer_concentration": {"reviewers": 1, "reviews": 2, "top_share": 1.0, "gini": 0.0},
}


class ReviewReply(AnsweredQuery):
    """Review figures of a scope, in total and per period, and who gives the reviews."""

    total: ReviewPeriod
    reviewer_load: list[ReviewerLoadView] = Field(description="over the whole range, busiest first")
    periods: list[ReviewPeriod]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "definition_id": flow.DEFINITION_ID,
                    "definition_version": flow.DEFINITION_VERSION,
                    "scope": f"workspace:{EXAMPLE_WORKSPACE}",
                    "since": "2026-03-02T00:00:00Z",
                    "until": "2026-03-09T00:00:00Z",
                    "granularity": "week",
                    "include_bots": False,
                    "developer": None,
                    "total": _REVIEW_PERIOD_EXAMPLE,
                    "reviewer_load": [
                        {
                            "reviewer": "0190f5c2-dddd-7000-8000-000000000002",
                            "reviews": 2,
                            "change_requests": 2,
                            "share": 1.0,
                        }
                    ],
                    "periods": [_REVIEW_PERIOD_EXAMPLE],
                }
            ]
        }
    )


def _review_period(figures: flow.ReviewFigures) -> ReviewPeriod:
    return ReviewPeriod(
        start=figures.start,
        end=figures.end,
        opened=figures.opened,
        time_to_first_review=_hours(figures.time_to_first_review),
        merged=figures.merged,
        review_rounds=RoundsView(
            **_counts(figures.rounds).model_dump(), unreviewed=figures.unreviewed_merged
        ),
        change_size=_counts(figures.change_size),
        merged_without_approval=ApprovalView(
            numerator=figures.merged_without_approval,
            denominator=figures.merged,
            rate=figures.merged_without_approval / figures.merged if figures.merged else None,
        ),
        reviewer_concentration=ConcentrationView(
            reviewers=figures.concentration.reviewers,
            reviews=figures.concentration.reviews,
            top_share=figures.concentration.top_share,
            gini=figures.concentration.gini,
        ),
    )


def review_rows(reply: ReviewReply) -> list[MetricRow]:
    """The reply as one row per number and period (the total first, then each reviewer's
    load over the range, then the periods)."""
    rows: list[MetricRow] = []

    def counts(
        period: PeriodName, p: ReviewPeriod, metric: str, c: CountFigure, unit: str
    ) -> MetricRow:
        return MetricRow(
            period=period,
            start=p.start,
            end=p.end,
            metric=metric,
            reviewer=None,
            count=c.count,
            median=c.median,
            p85=c.p85,
            value=None,
            unit=unit,
        )

    def period_rows(period: PeriodName, p: ReviewPeriod) -> None:
        rows.append(_count_row(period, p.start, p.end, "changes_opened", p.opened, "changes"))
        rows.append(
            _duration_row(period, p.start, p.end, "time_to_first_review", p.time_to_first_review)
        )
        rows.append(_count_row(period, p.start, p.end, "changes_merged", p.merged, "changes"))
        rows.append(counts(period, p, "review_rounds", p.review_rounds, "rounds"))
        rows.append(counts(period, p, "change_size", p.change_size, "commits"))
        approval = p.merged_without_approval
        rows.append(
            _value_row(
                period,
                p.start,
                p.end,
                "merged_without_approval",
                approval.rate,
                "fraction of merged changes",
                count=approval.numerator,
            )
        )
        concentration = p.reviewer_concentration
        for metric, value in (
            ("reviewer_top_share", concentration.top_share),
            ("reviewer_gini", concentration.gini),
        ):
            rows.append(
                _value_row(
                    period, p.start, p.end, metric, value, "fraction", count=concentration.reviewers
                )
            )

    period_rows("total", reply.total)
    for load in reply.reviewer_load:
        rows.append(
            _value_row(
                "total",
                reply.total.start,
                reply.total.end,
                "reviewer_share",
                load.share,
                "fraction of reviews",
                count=load.reviews,
                reviewer=load.reviewer,
            )
        )
    for p in reply.periods:
        period_rows(reply.granularity, p)
    return rows


@router.get(
    "/review",
    response_model=ReviewReply,
    summary="Review of a scope: time to first review, rounds, reviewer load, size, approvals",
    description="Time to first review (median and P85 in hours), review rounds, change size "
    "in commits and changes merged without an approving review, in total over [since, "
    "until) and per day or week; each reviewer's load over the range and how concentrated "
    "it is (top share and Gini). Accept: text/csv for one row per number and period.",
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "period,start,end,metric,reviewer,count,median,p85,value,unit\n"
                    "total,2026-03-02T00:00:00+00:00,2026-03-09T00:00:00+00:00,"
                    "merged_without_approval,,1,,,0.5,fraction of merged changes\n",
                }
            },
            "description": "The figures as JSON, or as CSV rows when Accept prefers text/csv.",
        },
        **METRIC_RESPONSES,
    },
)
async def get_review_metrics(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    since: Since = None,
    until: Until = None,
    granularity: GranularityParam = "week",
    include_bots: IncludeBots = False,
    developer: Developer = None,
    team: TeamFilter = None,
) -> BaseModel | Response:
    chosen = Selection(caller, scope, since, until, granularity, include_bots, developer, team)
    f = await chosen.filter(session)
    changes = await _changes(session, f)
    reviews = [
        flow.Review(
            r.change_request_id,
            r.review_id,
            r.author_now,
            r.reviewer_now,
            r.reviewer_bot,
            r.state,
            r.submitted_at,
        )
        for r in await reads.flow_reviews(session, f)
    ]

    total = flow.review(changes, reviews, chosen.since, chosen.until, include_bots)
    series = flow.review_series(changes, reviews, chosen.periods, include_bots)
    reply = ReviewReply(
        definition_id=flow.DEFINITION_ID,
        definition_version=flow.DEFINITION_VERSION,
        scope=scope.text,
        since=chosen.since,
        until=chosen.until,
        granularity=granularity,
        include_bots=include_bots,
        developer=developer,
        team=team,
        total=_review_period(total),
        reviewer_load=_loads(total.load),
        periods=[_review_period(f) for f in series],
    )
    if wants_csv(request.headers.get("accept")):
        return Response(csv_text(review_rows(reply), MetricRow), media_type=CSV_MEDIA_TYPE)
    return reply


def _loads(load: Sequence[flow.ReviewerLoad]) -> list[ReviewerLoadView]:
    return [
        ReviewerLoadView(
            reviewer=x.reviewer, reviews=x.reviews, change_requests=x.changes, share=x.share
        )
        for x in load
    ]

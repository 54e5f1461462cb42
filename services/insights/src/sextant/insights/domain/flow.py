"""Flow and review metrics: where a change request's time goes, how reviews are shared, and
how work items move. Pure: callers read the projections and pass plain values in.

The definitions (the service README states them for users):

- A change request's figures belong to the period it **merged** in (time to first review:
  the period it was **opened** in). Its phases, each clamped at zero (a commit authored
  after the opening has no coding time):

  - **coding**: first commit → opened;
  - **pickup**: opened → first review by someone other than the author, not a bot;
  - **review**: that first review → merged;
  - **deploy**: merged → the production deployment that shipped and counted it;
  - **cycle time**: first commit (its opening when earlier or no commit is known) → that
    production deployment; only deployed changes have one.

  A phase whose end is unknown (no review, not deployed yet) is not measured; the counts say
  how many were.
- **Review rounds** of a merged change: its reviews by others (not bots), in time order; the
  first starts round 1, and each review that follows a run of ``changes_requested`` starts
  a new round (two reviewers requesting changes at once are one run). A change without such
  a review has no rounds (counted apart).
- **Reviewer load**: reviews submitted in the period on the scope's changes, per reviewer
  (bots only with ``include_bots``, never one's own change): reviews, distinct changes, share
  of all; concentrated as the top reviewer's share and the Gini coefficient of the counts
  (0 = all equal, towards 1 = one person does them all).
- **Change size**: the commits a merged change listed (the activity events carry no line
  counts); a change listing none is not measured.
- **Merged without approval**: merged changes with no ``approved`` review by someone other
  than the author and not a bot ÷ merged changes.
- **Work items**: throughput = items that entered a done category in the period (their
  latest done); cycle time = first move into progress → that done; WIP = items started
  before the period's end and not done before it; their age at the period's end.
- Every distribution is a median and a P85 by linear interpolation between the closest
  ranks (:func:`~sextant.insights.domain.dora.percentile`), with its count.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from sextant.insights.domain.dora import percentile

DEFINITION_ID = "flow-2026"
DEFINITION_VERSION = 1
"""Every rule above; a change to any of them makes a new version."""
APPROVED = "approved"
CHANGES_REQUESTED = "changes_requested"


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"


T = TypeVar("T")
Period = tuple[datetime, datetime]
STEP = {Granularity.DAY: timedelta(days=1), Granularity.WEEK: timedelta(days=7)}


# inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeTimes:
    """A change request's milestones (``author``: the developer id it reads as now)."""

    id: UUID
    author: UUID | None
    opened_at: datetime
    first_commit_at: datetime | None
    first_review_at: datetime | None
    merged_at: datetime | None
    deployed_at: datetime | None
    commits: int


@dataclass(frozen=True)
class Review:
    """A review of change ``change_id`` (by ``author``) by ``reviewer`` (ids as they read
    now)."""

    change_id: UUID
    review_id: str
    author: UUID | None
    reviewer: UUID | None
    is_bot: bool
    state: str
    submitted_at: datetime


@dataclass(frozen=True)
class WorkItem:
    """A work item's first move into progress and its latest into done (None: not yet)."""

    id: UUID
    started_at: datetime | None
    done_at: datetime | None


# outputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Median and P85 of ``count`` values (None when there are none)."""

    count: int
    median: float | None
    p85: float | None


@dataclass(frozen=True)
class ChangeFlow:
    merged: int
    deployed: int
    coding: Spread
    pickup: Spread
    review: Spread
    deploy: Spread
    cycle_time: Spread
    """Durations in seconds."""


@dataclass(frozen=True)
class ItemFlow:
    throughput: int
    cycle_time: Spread
    wip: int
    age: Spread
    """Durations in seconds."""


@dataclass(frozen=True)
class FlowFigures:
    start: datetime
    end: datetime
    changes: ChangeFlow
    work_items: ItemFlow


@dataclass(frozen=True)
class ReviewerLoad:
    reviewer: UUID
    reviews: int
    changes: int
    share: float


@dataclass(frozen=True)
class Concentration:
    reviewers: int
    reviews: int
    top_share: float | None
    gini: float | None


@dataclass(frozen=True)
class ReviewFigures:
    start: datetime
    end: datetime
    opened: int
    time_to_first_review: Spread
    """Seconds, over the changes opened in the period that were reviewed."""
    merged: int
    rounds: Spread
    unreviewed_merged: int
    change_size: Spread
    merged_without_approval: int
    concentration: Concentration
    load: list[ReviewerLoad]


# arithmetic ----------------------------------------------------------------------------


def spread(values: Sequence[float]) -> Spread:
    return Spread(len(values), percentile(values, 0.5), percentile(values, 0.85))


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


def periods(since: datetime, until: datetime, granularity: Granularity) -> list[Period]:
    """``[since, until)`` cut into days or 7-day weeks from ``since``; the last may be short."""
    if since >= until:
        raise ValueError("since must be before until")
    step, cuts, start = STEP[granularity], [], since
    while start < until:
        end = until if until - start <= step else start + step  # no overflow near year 9999
        cuts.append((start, end))
        start = end
    return cuts


def gini(counts: Sequence[int]) -> float | None:
    """The Gini coefficient of positive counts: ``2 Σ i·x_i / (n Σ x) - (n + 1) / n`` over
    the counts in ascending order, ``i`` from 1. None without counts."""
    ordered = sorted(c for c in counts if c > 0)
    if not ordered:
        return None
    n, total = len(ordered), sum(ordered)
    weighted = sum(i * x for i, x in enumerate(ordered, start=1))
    return 2 * weighted / (n * total) - (n + 1) / n


def rounds(reviews: Sequence[Review]) -> int:
    """Review rounds of one change from its reviews by others (see the module): 0 without."""
    count, requested = 0, False
    for review in sorted(reviews, key=lambda r: (r.submitted_at, r.review_id)):
        if count == 0:
            count = 1
        elif requested and review.state != CHANGES_REQUESTED:
            count += 1
        requested = review.state == CHANGES_REQUESTED
    return count


def by_others(review: Review) -> bool:
    """Not a review of one's own change (an unattributed reviewer is someone else)."""
    return review.reviewer is None or review.reviewer != review.author


# the figures ---------------------------------------------------------------------------


def change_flow(merged: Sequence[ChangeTimes]) -> ChangeFlow:
    """The phases of ``merged``, the changes merged in one period."""
    coding, pickup, review, deploy, cycle = [], [], [], [], []
    for c in merged:
        assert c.merged_at is not None
        began = min(c.opened_at, c.first_commit_at or c.opened_at)
        if c.first_commit_at is not None:
            coding.append(_seconds(c.first_commit_at, c.opened_at))
        if c.first_review_at is not None:
            pickup.append(_seconds(c.opened_at, c.first_review_at))
            review.append(_seconds(c.first_review_at, c.merged_at))
        if c.deployed_at is not None:
            deploy.append(_seconds(c.merged_at, c.deployed_at))
            cycle.append(_seconds(began, c.deployed_at))
    return ChangeFlow(
        merged=len(merged),
        deployed=len(cycle),
        coding=spread(coding),
        pickup=spread(pickup),
        review=spread(review),
        deploy=spread(deploy),
        cycle_time=spread(cycle),
    )


def item_flow(items: Sequence[WorkItem], start: datetime, end: datetime) -> ItemFlow:
    """Work items done in ``[start, end)``, and those in progress at ``end``."""
    done = [i for i in items if i.done_at is not None and start <= i.done_at < end]
    cycle = [_seconds(i.started_at, i.done_at) for i in done if i.started_at and i.done_at]
    open_ = [
        i
        for i in items
        if i.started_at is not None
        and i.started_at < end
        and (i.done_at is None or i.done_at >= end)
    ]
    return ItemFlow(
        throughput=len(done),
        cycle_time=spread(cycle),
        wip=len(open_),
        age=spread([_seconds(i.started_at, end) for i in open_ if i.started_at is not None]),
    )


def bucketed(
    values: Sequence[T], moment: Callable[[T], datetime | None], cuts: Sequence[Period]
) -> list[list[T]]:
    """``values`` by the cut their ``moment`` falls in (cuts ordered, not overlapping; a value
    in none, or without a moment, is left out): one pass, not one per cut."""
    starts = [start for start, _ in cuts]
    found: list[list[T]] = [[] for _ in cuts]
    for value in values:
        at = moment(value)
        if at is None:
            continue
        k = bisect_right(starts, at) - 1
        if k >= 0 and at < cuts[k][1]:
            found[k].append(value)
    return found


def flow_series(
    changes: Sequence[ChangeTimes], items: Sequence[WorkItem], cuts: Sequence[Period]
) -> list[FlowFigures]:
    """The flow figures of each of ``cuts`` (ordered, not overlapping)."""
    merged = bucketed(changes, lambda c: c.merged_at, cuts)
    return [
        FlowFigures(start, end, change_flow(merged[k]), item_flow(items, start, end))
        for k, (start, end) in enumerate(cuts)
    ]


def flow(
    changes: Sequence[ChangeTimes],
    items: Sequence[WorkItem],
    start: datetime,
    end: datetime,
) -> FlowFigures:
    return flow_series(changes, items, [(start, end)])[0]


def review_series(
    changes: Sequence[ChangeTimes],
    reviews: Sequence[Review],
    cuts: Sequence[Period],
    include_bots: bool = False,
) -> list[ReviewFigures]:
    """The review figures of each of ``cuts`` (ordered, not overlapping): ``reviews`` hold
    those of ``changes`` and every review submitted in the range on the scope's changes."""
    of_change: dict[UUID, list[Review]] = {}
    for r in reviews:
        if not r.is_bot and by_others(r):
            of_change.setdefault(r.change_id, []).append(r)
    given = [
        r
        for r in reviews
        if r.reviewer is not None and by_others(r) and (include_bots or not r.is_bot)
    ]
    opened_in = bucketed(changes, lambda c: c.opened_at, cuts)
    merged_in = bucketed(changes, lambda c: c.merged_at, cuts)
    given_in = bucketed(given, lambda r: r.submitted_at, cuts)
    return [
        _review_figures(start, end, opened_in[k], merged_in[k], given_in[k], of_change)
        for k, (start, end) in enumerate(cuts)
    ]


def review(
    changes: Sequence[ChangeTimes],
    reviews: Sequence[Review],
    start: datetime,
    end: datetime,
    include_bots: bool = False,
) -> ReviewFigures:
    return review_series(changes, reviews, [(start, end)], include_bots)[0]


def _review_figures(
    start: datetime,
    end: datetime,
    opened: Sequence[ChangeTimes],
    merged: Sequence[ChangeTimes],
    given: Sequence[Review],
    of_change: dict[UUID, list[Review]],
) -> ReviewFigures:
    first = [
        _seconds(c.opened_at, c.first_review_at) for c in opened if c.first_review_at is not None
    ]
    round_counts = [rounds(of_change.get(c.id, [])) for c in merged]
    unapproved = sum(
        1 for c in merged if not any(r.state == APPROVED for r in of_change.get(c.id, []))
    )
    per_reviewer = Counter(r.reviewer for r in given)
    changes_of: dict[UUID, set[UUID]] = {}
    for r in given:
        assert r.reviewer is not None
        changes_of.setdefault(r.reviewer, set()).add(r.change_id)
    total = len(given)
    load = sorted(
        (
            ReviewerLoad(person, n, len(changes_of[person]), n / total)
            for person, n in per_reviewer.items()
            if person is not None
        ),
        key=lambda x: (-x.reviews, str(x.reviewer)),
    )
    return ReviewFigures(
        start=start,
        end=end,
        opened=len(opened),
        time_to_first_review=spread(first),
        merged=len(merged),
        rounds=spread([float(n) for n in round_counts if n > 0]),
        unreviewed_merged=sum(1 for n in round_counts if n == 0),
        change_size=spread([float(c.commits) for c in merged if c.commits > 0]),
        merged_without_approval=unapproved,
        concentration=Concentration(
            reviewers=len(load),
            reviews=total,
            top_share=load[0].share if load else None,
            gini=gini([x.reviews for x in load]),
        ),
        load=load,
    )

"""A team's figures per period, summed from its members' DeveloperMetrics days. Pure: the
caller reads the rows of the developers who were in the team on each row's day (a developer
counts for the team they were in on that day) and passes them in.

Per period: counts summed over the member days; review latency the mean over every first
review the members gave; cycle time the median and P85 of every change the members merged
(their exact hours, not a median of medians); WIP the sum, over the developers counted, of
each one's WIP on their last day in the period; ``developers`` the distinct developers
counted and ``developer_days`` the rows behind the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sextant.insights.domain.dora import percentile
from sextant.insights.domain.trends import DeveloperDay

DayPeriod = tuple[date, date]  # [start, end)


@dataclass(frozen=True)
class MemberDay:
    """A team member's figures of one UTC day (a DeveloperMetrics row)."""

    developer_id: UUID
    day: date
    figures: DeveloperDay


@dataclass(frozen=True)
class TeamFigures:
    start: date
    end: date
    developers: int
    developer_days: int
    commits: int
    changes_opened: int
    changes_merged: int
    reviews_given: int
    review_latency_count: int
    review_latency_hours: float | None
    cycle_time_count: int
    cycle_time_p50_hours: float | None
    cycle_time_p85_hours: float | None
    wip: int


def figures(rows: Sequence[MemberDay], start: date, end: date) -> TeamFigures:
    """The team's figures over ``[start, end)`` from its member days (others are ignored)."""
    inside = sorted((r for r in rows if start <= r.day < end), key=lambda r: r.day)
    latest: dict[UUID, int] = {}
    for r in inside:
        latest[r.developer_id] = r.figures.wip  # oldest first: the last day's stays
    latency_sum = sum(r.figures.review_latency_hours_sum for r in inside)
    latency_count = sum(r.figures.review_latency_count for r in inside)
    cycle = [hours for r in inside for hours in r.figures.cycle_time_hours]
    p50, p85 = percentile(cycle, 0.5), percentile(cycle, 0.85)
    return TeamFigures(
        start=start,
        end=end,
        developers=len(latest),
        developer_days=len(inside),
        commits=sum(r.figures.commits for r in inside),
        changes_opened=sum(r.figures.changes_opened for r in inside),
        changes_merged=sum(r.figures.changes_merged for r in inside),
        reviews_given=sum(r.figures.reviews_given for r in inside),
        review_latency_count=latency_count,
        review_latency_hours=_hours(latency_sum / latency_count) if latency_count else None,
        cycle_time_count=len(cycle),
        cycle_time_p50_hours=None if p50 is None else _hours(p50),
        cycle_time_p85_hours=None if p85 is None else _hours(p85),
        wip=sum(latest.values()),
    )


def series(rows: Sequence[MemberDay], periods: Sequence[DayPeriod]) -> list[TeamFigures]:
    return [figures(rows, start, end) for start, end in periods]


def _hours(value: float) -> float:
    """Rounded as the daily rows are, so equal inputs give equal replies."""
    return round(value, 6)

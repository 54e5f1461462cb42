"""The team core, each number worked by hand: member days summed per period, review latency
over every first review, cycle time over every merge (not a median of medians), WIP of each
developer's last day, and the periods cut like the flow metrics'."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import pytest

from sextant.insights.domain import flow
from sextant.insights.domain.teams import MemberDay, figures, series
from sextant.insights.domain.trends import DeveloperDay
from sextant.insights.team_metrics import day_periods, earliest_day
from sextant.runtime.errors import InvalidInput

ADA, BEN = UUID(int=1), UUID(int=2)
MON = date(2026, 3, 2)


def day(
    who: UUID,
    on: date,
    commits: int = 0,
    merged: int = 0,
    reviews: int = 0,
    latency: tuple[float, int] = (0.0, 0),
    cycle: tuple[float, ...] = (),
    wip: int = 0,
) -> MemberDay:
    return MemberDay(
        who,
        on,
        DeveloperDay(
            commits=commits,
            changes_opened=merged,
            changes_merged=merged,
            reviews_given=reviews,
            review_latency_hours_sum=latency[0],
            review_latency_count=latency[1],
            cycle_time_hours=cycle,
            cycle_time_p50_hours=None,
            cycle_time_p85_hours=None,
            wip=wip,
        ),
    )


ROWS = [
    day(ADA, date(2026, 3, 2), commits=3, merged=1, cycle=(2.0,), wip=2),
    day(ADA, date(2026, 3, 4), commits=1, reviews=2, latency=(5.0, 2), wip=1),
    day(
        BEN,
        date(2026, 3, 3),
        commits=2,
        merged=2,
        cycle=(1.0, 10.0),
        reviews=1,
        latency=(1.0, 1),
        wip=4,
    ),
    day(BEN, date(2026, 3, 10), commits=7, wip=0),
]


def test_a_week_sums_its_member_days() -> None:
    week = figures(ROWS, MON, date(2026, 3, 9))
    assert (week.developers, week.developer_days) == (2, 3)
    assert (week.commits, week.changes_merged, week.reviews_given) == (6, 3, 3)
    # (5 + 1) hours over 3 first reviews, not the mean of the two days' means (2.5, 1).
    assert (week.review_latency_count, week.review_latency_hours) == (3, 2.0)
    # Cycle times 1, 2, 10: median 2, P85 at rank 1.7 = 2 + 0.7 * 8 = 7.6.
    assert (week.cycle_time_count, week.cycle_time_p50_hours, week.cycle_time_p85_hours) == (
        3,
        2.0,
        7.6,
    )
    # Ada's last day says 1, Ben's 4 (her 2 of Monday is overtaken).
    assert week.wip == 5


def test_an_empty_period_counts_nothing_and_has_no_percentiles() -> None:
    empty = figures(ROWS, date(2026, 3, 5), date(2026, 3, 10))
    assert (empty.developers, empty.commits, empty.wip) == (0, 0, 0)
    assert empty.review_latency_hours is None
    assert (empty.cycle_time_count, empty.cycle_time_p50_hours) == (0, None)


def test_a_series_cuts_the_rows_by_period() -> None:
    cut = day_periods(MON, date(2026, 3, 12), flow.Granularity.WEEK)
    assert cut == [(MON, date(2026, 3, 9)), (date(2026, 3, 9), date(2026, 3, 12))]
    assert [p.commits for p in series(ROWS, cut)] == [6, 7]
    days = day_periods(MON, date(2026, 3, 5), flow.Granularity.DAY)
    assert [p.commits for p in series(ROWS, days)] == [3, 2, 1]


def test_a_range_too_long_or_empty_is_refused_naming_the_parameter() -> None:
    with pytest.raises(InvalidInput) as many:
        day_periods(MON, date(2027, 6, 1), flow.Granularity.DAY)
    assert many.value.extensions["parameter"] == "granularity"
    with pytest.raises(InvalidInput) as empty:
        day_periods(MON, MON, flow.Granularity.DAY)
    assert empty.value.extensions["parameter"] == "since"


def test_the_default_range_is_the_28_days_before_until_and_never_before_the_first_day() -> None:
    assert earliest_day(date(2026, 3, 29)) == MON - timedelta(days=1)
    assert earliest_day(date.min + timedelta(days=3)) == date.min  # then refused as empty

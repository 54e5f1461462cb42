"""The trends core, each number worked by hand: weekly buckets, the Mann-Whitney U test
(with and without ties), the arrows and flow efficiency against a developer's own past."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sextant.insights.domain.trends import (
    DeveloperDay,
    Week,
    mann_whitney_u,
    percentile_rank,
    weekly,
    window_trend,
)


def day(
    commits: int = 0,
    merged: int = 0,
    reviews: int = 0,
    latency: tuple[float, int] = (0.0, 0),
    cycle: tuple[float, ...] = (),
    wip: int = 0,
) -> DeveloperDay:
    return DeveloperDay(
        commits=commits,
        changes_opened=0,
        changes_merged=merged,
        reviews_given=reviews,
        review_latency_hours_sum=latency[0],
        review_latency_count=latency[1],
        cycle_time_hours=cycle,
        cycle_time_p50_hours=None,
        cycle_time_p85_hours=None,
        wip=wip,
    )


def test_weeks_sum_counts_and_pool_durations() -> None:
    until = date(2026, 3, 9)
    days = [
        (date(2026, 3, 4), day(commits=2, reviews=1, latency=(3.0, 1), cycle=(10.0,), wip=2)),
        (date(2026, 3, 2), day(commits=1, merged=2, reviews=2, latency=(3.0, 2), cycle=(2.0, 4.0))),
        (date(2026, 2, 28), day(commits=5, wip=4)),
        (date(2026, 3, 9), day(commits=7)),  # the end is excluded
    ]
    earlier, last = weekly(days, until, 2)
    assert earlier == Week(date(2026, 2, 23), 1, 5, 0, 0, 0, None, None, 4)
    # latency: (3 + 3) h over 3 first reviews = 2 h; cycle times 2, 4, 10: median 4;
    # WIP of the last active day (4 March): 2.
    assert last == Week(date(2026, 3, 2), 2, 3, 0, 2, 3, 2.0, 4.0, 2)


def test_mann_whitney_u_without_ties() -> None:
    # Ranks of 4, 5, 6 among 1..6: 4 + 5 + 6 = 15, U = 15 - 3*4/2 = 9, expected 4.5,
    # variance 3*3/12 * 7 = 5.25, z = (4.5 - 0.5) / 2.29129 = 1.74574, p = erfc(z/sqrt 2).
    test = mann_whitney_u([4, 5, 6], [1, 2, 3])
    assert (test.u, test.expected_u) == (9.0, 4.5)
    assert test.p_value == pytest.approx(0.080856, abs=1e-5)


def test_mann_whitney_u_with_ties() -> None:
    # 1, 2 | 2, 3: ranks 1, 2.5 | 2.5, 4; U = 3.5 - 3 = 0.5, expected 2; one tie of two:
    # variance 4/12 * (5 - 6/12) = 1.5, z = (1.5 - 0.5) / 1.224745 = 0.816497, p = 0.414216.
    test = mann_whitney_u([1, 2], [2, 3])
    assert (test.u, test.expected_u) == (0.5, 2.0)
    assert test.p_value == pytest.approx(0.414216, abs=1e-5)


def test_every_value_tied_is_no_change() -> None:
    assert mann_whitney_u([1, 1, 1], [1] * 10).p_value == 1.0


def test_percentile_rank_counts_ties_half() -> None:
    assert percentile_rank(2, [1, 2, 2, 3]) == 50.0  # one below, two equal: (1 + 1) / 4
    assert percentile_rank(5, [1, 2, 3, 4]) == 100.0


def weeks_of(values: list[int], start: date = date(2025, 1, 6)) -> list[Week]:
    """Weeks whose only figure is ``values`` changes merged (and as many active days)."""
    return [
        Week(start + timedelta(weeks=i), 1 if v else 0, v, 0, v, 0, None, None, None)
        for i, v in enumerate(values)
    ]


def test_a_significant_rise_gets_an_arrow_and_a_high_flow_efficiency() -> None:
    trend = window_trend(weeks_of([1] * 52 + [5] * 4), 4)
    merged = next(m for m in trend.metrics if m.metric == "changes_merged")
    # Every recent week above every baseline week: U = 4 * 52 = 208, expected 104,
    # p far below 0.05 (z = 103.5 / 14.02 = 7.38).
    assert merged.test is not None
    assert (merged.test.u, merged.test.expected_u) == (208.0, 104.0)
    assert merged.test.p_value < 1e-9
    assert (merged.arrow, merged.better) == ("up", True)
    assert (merged.recent_median, merged.baseline_median) == (5.0, 1.0)
    # Changes merged: the median 5 is above every baseline week, the 100th percentile;
    # reviews given, 0 every week, is as usual (ties count half): 50. Mean 75.
    assert trend.flow_components == {"changes_merged": 100.0, "reviews_given": 50.0}
    assert trend.flow_efficiency == 75.0


def test_no_arrow_without_a_significant_change() -> None:
    trend = window_trend(weeks_of([1, 2] * 26 + [2, 1, 2, 1]), 4)
    merged = next(m for m in trend.metrics if m.metric == "changes_merged")
    assert merged.test is not None and merged.test.p_value > 0.05
    assert merged.arrow is None and merged.better is None
    # median 1.5 among 26 ones and 26 twos: 26 below, none equal: 50.
    assert trend.flow_components == {"changes_merged": 50.0, "reviews_given": 50.0}


def test_baseline_starts_at_the_first_active_week() -> None:
    # 44 weeks before the developer started, then 8 weeks of 1, then 4 of 3: the baseline
    # is the 8 active weeks, not 52 weeks padded with zeros.
    trend = window_trend(weeks_of([0] * 44 + [1] * 8 + [3] * 4), 4)
    merged = next(m for m in trend.metrics if m.metric == "changes_merged")
    assert (merged.recent_weeks, merged.baseline_weeks) == (4, 8)


def test_too_little_history_means_no_test() -> None:
    trend = window_trend(weeks_of([0] * 50 + [1] * 2 + [3] * 4), 4)
    merged = next(m for m in trend.metrics if m.metric == "changes_merged")
    assert merged.test is None and merged.arrow is None
    assert trend.flow_efficiency is None


def test_fewer_merges_than_usual_is_worse_and_less_wip_is_better() -> None:
    series = [
        Week(
            date(2025, 1, 6) + timedelta(weeks=i),
            1,
            0,
            0,
            3 if i < 52 else 0,
            0,
            None,
            None,
            4 if i < 52 else 1,
        )
        for i in range(56)
    ]
    trend = window_trend(series, 4)
    by = {m.metric: m for m in trend.metrics}
    assert (by["changes_merged"].arrow, by["changes_merged"].better) == ("down", False)
    assert (by["wip"].arrow, by["wip"].better) == ("down", True)
    # merged 0 is below every baseline week (0), WIP 1 below every one (100 once turned),
    # reviews as usual (50).
    assert trend.flow_components == {"changes_merged": 0.0, "reviews_given": 50.0, "wip": 100.0}
    assert trend.flow_efficiency == 50.0

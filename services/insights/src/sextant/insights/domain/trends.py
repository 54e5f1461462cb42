"""A developer's trends: weekly series from their daily figures, a change test per metric
over the last 4, 13 and 52 weeks, and a composite "flow efficiency" against their own past.

The change test is the **Mann-Whitney U test**, two-sided, of the last N weekly values
against the 52 weeks before them (from the developer's first active week on), at alpha = 0.05,
normal approximation with the tie correction and a continuity correction. Why this one:
weekly counts are small integers, skewed and full of ties and zeros, and one holiday week or
one giant change must not decide the arrow; the rank test assumes no distribution, compares
the whole of the two periods rather than their means, and is insensitive to outliers. A
slope test (Theil-Sen) would answer "is it drifting?", which a person's weeks rarely do
steadily; "is the recent period different from their usual?" is the question an arrow
answers. The arrow shows only when the test is significant.

Flow efficiency, per window: for each flow measure, the percentile (mid-rank) the window's
median week takes among the developer's own baseline weeks, turned so higher is better
(more changes merged and reviews given; shorter cycle time and review latency; less WIP),
averaged. 50 means "as usual for them"; it is never compared across developers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

WINDOWS = (4, 13, 52)
BASELINE_WEEKS = 52
ALPHA = 0.05
MIN_RECENT = 3  # weeks with a value in the window, for a test
MIN_BASELINE = 8  # weeks with a value in the baseline, for a test or a percentile


@dataclass(frozen=True)
class DeveloperDay:
    """A developer's figures of one UTC day."""

    commits: int
    changes_opened: int
    changes_merged: int
    reviews_given: int
    review_latency_hours_sum: float
    review_latency_count: int
    cycle_time_hours: tuple[float, ...]
    cycle_time_p50_hours: float | None
    cycle_time_p85_hours: float | None
    wip: int

    @property
    def active(self) -> bool:
        """A day is kept only with activity of its own (WIP alone does not make one)."""
        return bool(
            self.commits or self.changes_opened or self.changes_merged or self.reviews_given
        )


@dataclass(frozen=True)
class Week:
    """Seven days from ``start``: counts summed, review latency the mean of the week's
    first reviews, cycle time the median of the changes merged in it, WIP as of its last
    active day (None when it has no value)."""

    start: date
    active_days: int
    commits: int
    changes_opened: int
    changes_merged: int
    reviews_given: int
    review_latency_hours: float | None
    cycle_time_p50_hours: float | None
    wip: int | None

    def value(self, metric: str) -> float | None:
        found: float | int | None = getattr(self, metric)
        return None if found is None else float(found)


# metric → +1 when more is better, -1 when less is
METRICS: dict[str, int] = {
    "commits": 1,
    "changes_opened": 1,
    "changes_merged": 1,
    "reviews_given": 1,
    "review_latency_hours": -1,
    "cycle_time_p50_hours": -1,
    "wip": -1,
}
FLOW = ("changes_merged", "reviews_given", "cycle_time_p50_hours", "review_latency_hours", "wip")


def weekly(days: Sequence[tuple[date, DeveloperDay]], until: date, weeks: int) -> list[Week]:
    """The ``weeks`` seven-day buckets ending at ``until`` (excluded), oldest first."""
    first = until - timedelta(weeks=weeks)
    buckets: list[list[tuple[date, DeveloperDay]]] = [[] for _ in range(weeks)]
    for day, figures in sorted(days, key=lambda d: d[0]):
        if first <= day < until:
            buckets[(day - first).days // 7].append((day, figures))
    return [_week(first + timedelta(weeks=i), bucket) for i, bucket in enumerate(buckets)]


def _week(start: date, days: list[tuple[date, DeveloperDay]]) -> Week:
    figures = [f for _, f in days]
    latency_count = sum(f.review_latency_count for f in figures)
    cycle = [h for f in figures for h in f.cycle_time_hours]
    return Week(
        start=start,
        active_days=len(figures),
        commits=sum(f.commits for f in figures),
        changes_opened=sum(f.changes_opened for f in figures),
        changes_merged=sum(f.changes_merged for f in figures),
        reviews_given=sum(f.reviews_given for f in figures),
        review_latency_hours=(
            sum(f.review_latency_hours_sum for f in figures) / latency_count
            if latency_count
            else None
        ),
        cycle_time_p50_hours=median(cycle) if cycle else None,
        wip=figures[-1].wip if figures else None,
    )


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of ``recent`` against ``baseline``: U of the recent sample, its
    expectation, and the two-sided p-value."""

    u: float
    expected_u: float
    p_value: float


def mann_whitney_u(recent: Sequence[float], baseline: Sequence[float]) -> RankTest:
    """Two-sided, normal approximation with tie and continuity corrections (p = 1 when
    every value ties)."""
    n1, n2 = len(recent), len(baseline)
    pooled = sorted([(v, 0) for v in recent] + [(v, 1) for v in baseline])
    ranks: list[float] = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1  # mid-rank of the tied run
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    rank_sum = sum(r for r, (_, side) in zip(ranks, pooled, strict=True) if side == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    expected = n1 * n2 / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return RankTest(u, expected, 1.0)
    z = max(0.0, abs(u - expected) - 0.5) / math.sqrt(variance)
    return RankTest(u, expected, min(1.0, math.erfc(z / math.sqrt(2))))


def percentile_rank(value: float, baseline: Sequence[float]) -> float:
    """Where ``value`` stands among ``baseline``, 0-100, ties counting half."""
    below = sum(1 for b in baseline if b < value)
    equal = sum(1 for b in baseline if b == value)
    return 100 * (below + equal / 2) / len(baseline)


@dataclass(frozen=True)
class MetricTrend:
    metric: str
    recent_median: float | None
    baseline_median: float | None
    recent_weeks: int
    baseline_weeks: int
    test: RankTest | None  # None: too little history to test
    arrow: str | None  # "up" / "down" only when significant
    better: bool | None  # whether the arrow points the good way


@dataclass(frozen=True)
class WindowTrend:
    weeks: int
    metrics: list[MetricTrend]
    flow_efficiency: float | None
    flow_components: dict[str, float]


def window_trend(series: Sequence[Week], weeks: int) -> WindowTrend:
    """The change test of every metric, and flow efficiency, for the last ``weeks`` weeks of
    ``series`` (oldest first) against the up to 52 before them from the first active week."""
    recent_weeks = list(series[-weeks:])
    before = list(series[:-weeks])[-BASELINE_WEEKS:]
    active = next((i for i, w in enumerate(before) if w.active_days), len(before))
    baseline_weeks = before[active:]
    trends = []
    components: dict[str, float] = {}
    for metric, direction in METRICS.items():
        recent = [v for w in recent_weeks if (v := w.value(metric)) is not None]
        baseline = [v for w in baseline_weeks if (v := w.value(metric)) is not None]
        test = None
        arrow = None
        if len(recent) >= MIN_RECENT and len(baseline) >= MIN_BASELINE:
            test = mann_whitney_u(recent, baseline)
            if test.p_value < ALPHA:
                arrow = "up" if test.u > test.expected_u else "down"
        trends.append(
            MetricTrend(
                metric=metric,
                recent_median=median(recent) if recent else None,
                baseline_median=median(baseline) if baseline else None,
                recent_weeks=len(recent),
                baseline_weeks=len(baseline),
                test=test,
                arrow=arrow,
                better=None if arrow is None else (arrow == "up") == (direction > 0),
            )
        )
        if metric in FLOW and recent and len(baseline) >= MIN_BASELINE:
            rank = percentile_rank(median(recent), baseline)
            components[metric] = rank if direction > 0 else 100 - rank
    score = sum(components.values()) / len(components) if components else None
    return WindowTrend(weeks, trends, score, components)

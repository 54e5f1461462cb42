"""Does a team's past give any reason not to treat its weeks as independent draws?

Plain resampling of single weeks is the right model for a team whose weeks are independent
draws from one unchanging pace: on such a series the method's blocks and level factor only
add noise, 2-4 % of CRPS (the forecast README). Real teams rarely are such a team, and a
forecast that assumes it where it does not hold misses its bands by far more. So the
method stands unless the past is tested and nothing is found: three tests of the whole
history against independent weeks, each of which the method's machinery answers.

- **4-week runs differ** (one-way ANOVA): busy and quiet months, which the blocks carry.
- **13-week quarters differ**: changes of pace, which the level factor carries.
- **A linear trend** (least squares, t test): growth or decline, which the level's centre
  follows.

The smallest p-value, times 3 (Bonferroni), against :data:`ALPHA`. With fewer than four
quarters nothing is tested and the method stands: too little past to tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

ALPHA = 0.05
RUN_WEEKS = (4, 13)  # the blocks' length and the level factor's quarter
_MIN_GROUPS = 4


def normal_upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def f_upper_tail(f: float, d1: int, d2: int) -> float:
    """P(F > f) for F with (d1, d2) degrees of freedom, by Paulson's normal approximation
    (Wilson-Hilferty's cube root applied to both chi-squares): within 0.001 of the exact
    tail from 0.05 down, where the decision is made, without a statistics library."""
    if f <= 0:
        return 1.0
    a, b = 2 / (9 * d1), 2 / (9 * d2)
    root = f ** (1 / 3)
    return normal_upper_tail(((1 - b) * root - (1 - a)) / math.sqrt(a + b * root * root))


def runs_differ_p(values: NDArray[np.float64], weeks: int) -> float | None:
    """The p-value of a one-way ANOVA of the latest complete runs of ``weeks`` weeks (the
    oldest partial run left out); None with fewer than four runs."""
    groups = values.size // weeks
    if groups < _MIN_GROUPS:
        return None
    table = values[values.size - groups * weeks :].reshape(groups, weeks)
    within = float(table.var(axis=1, ddof=1).mean())
    between = weeks * float(table.mean(axis=1).var(ddof=1))
    if within == 0:
        return 1.0 if between == 0 else 0.0
    return f_upper_tail(between / within, groups - 1, groups * (weeks - 1))


def trend_p(values: NDArray[np.float64]) -> float:
    """The two-sided p-value of the least-squares slope of the weeks on time (a normal
    tail: the weeks tested here are at least 52)."""
    n = values.size
    week = np.arange(n) - (n - 1) / 2  # centred, so the slope needs no intercept
    spread = float(week @ week)
    slope = float(week @ values) / spread
    residuals = values - values.mean() - slope * week
    variance = float(residuals @ residuals) / (n - 2)
    if variance == 0:
        return 1.0 if slope == 0 else 0.0
    return 2 * normal_upper_tail(abs(slope) / math.sqrt(variance / spread))


def independence_p(history: Sequence[float] | NDArray[Any]) -> float | None:
    """The Bonferroni-adjusted smallest p-value of the three tests (at most 1); None when
    the history has fewer than four quarters."""
    values = np.asarray(history, dtype=np.float64)
    p_values = [runs_differ_p(values, weeks) for weeks in RUN_WEEKS]
    if any(p is None for p in p_values):
        return None
    return bonferroni([p for p in p_values if p is not None] + [trend_p(values)])


def bonferroni(p_values: Sequence[float]) -> float:
    """The smallest p-value times how many were tested (at most 1): the family of tests
    rejects at ALPHA at most ALPHA of the time when every null holds."""
    return min(1.0, len(p_values) * min(p_values))


def weeks_look_independent(history: Sequence[float] | NDArray[Any]) -> bool:
    """True when the past was tested and gave no reason to doubt independent weeks."""
    p = independence_p(history)
    return p is not None and p >= ALPHA

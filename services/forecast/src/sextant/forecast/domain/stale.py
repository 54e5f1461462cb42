"""Stale work: items whose age in their current state is an outlier for that state.

The reference is how long items of the same team and type stayed in the same state
before (a skewed, heavy-tailed distribution), so the score is robust: distance from
the median of log-durations in units of their MAD (scaled to a normal's sigma). An item is
stale above ``threshold`` (3.0 by default, roughly the 99.9th percentile of a normal)
and, whatever the score, only past the reference's 90th percentile — a state where
everyone waits long is not flagged for waiting long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_REFERENCE = 8
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class StaleVerdict:
    stale: bool
    score: float
    percentile: float  # where the item's age falls among past durations in this state
    explanation: str


def assess(
    state: str, age_days: float, past_durations_days: Sequence[float], *, threshold: float = 3.0
) -> StaleVerdict:
    """Is an item ``age_days`` into ``state`` stale, given past durations in that state?"""
    past = np.asarray([d for d in past_durations_days if d >= 0], dtype=np.float64)
    if past.size < MIN_REFERENCE:
        return StaleVerdict(
            False,
            0.0,
            float("nan"),
            f"not enough history for '{state}' ({past.size} past items, need {MIN_REFERENCE})",
        )
    logs = np.log1p(past)
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median))) * _MAD_TO_SIGMA
    spread = mad if mad > 1e-9 else float(np.std(logs)) or 1e-9
    score = (float(np.log1p(age_days)) - median) / spread
    percentile = float(100.0 * np.mean(past < age_days))
    stale = score > threshold and percentile >= 90.0
    typical = float(np.expm1(median))
    explanation = (
        f"{age_days:.1f} days in '{state}', longer than {percentile:.0f}% of past items "
        f"(typical: {typical:.1f} days); robust score {score:.1f}"
        + (f" is above the stale threshold {threshold:.1f}" if stale else "")
    )
    return StaleVerdict(stale, round(score, 3), round(percentile, 1), explanation)

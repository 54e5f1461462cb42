"""The timing figures the insights benches print (imported by them, not a bench itself):
percentiles by nearest rank over the measured calls, and one line per measured thing."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def pct(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by nearest rank (a measured value, never interpolated)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, milliseconds: Sequence[float], high: int, width: int = 16) -> str:
    """``name  p50 … ms   p<high> … ms`` for one measured thing."""
    return (
        f"  {name:{width}} p50 {statistics.median(milliseconds):7.2f} ms   "
        f"p{high} {pct(milliseconds, high):7.2f} ms"
    )

"""How well forecasts have held: a rolling-origin backtest of "how many" forecasts.

At every origin (every 4 weeks, once a full sampling window of history exists) the
forecast is made from the weeks before the origin only, then compared with what really
happened over the horizon. A well-calibrated P85 is reached about 85 % of the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sextant.forecast.domain.montecarlo import PERCENTILES, ForecastOptions, how_many

# Where a calibrated method's hit shares should land (issue #6): nominal ± a band that
# allows for a few hundred origins of sampling noise.
CALIBRATION_TARGETS: dict[int, tuple[float, float]] = {
    50: (0.40, 0.60),
    85: (0.80, 0.90),
    95: (0.90, 0.98),
}


@dataclass(frozen=True)
class Calibration:
    """For one horizon: at how many origins, and the share of them each percentile held."""

    horizon_weeks: int
    origins: int
    hit_share: dict[int, float]  # percentile → share of origins whose actual count reached it


def backtest(
    weekly: Sequence[float] | NDArray[Any],
    horizons: tuple[int, ...] = (4, 12),
    *,
    step_weeks: int = 4,
    options: ForecastOptions | None = None,
    first_origin: int | None = None,
) -> list[Calibration]:
    """Rolling-origin backtest over a weekly throughput series."""
    options = options or ForecastOptions(trials=4000)
    series = np.asarray(weekly, dtype=np.float64)
    start = first_origin if first_origin is not None else options.window_weeks
    results = []
    for horizon in horizons:
        hits: dict[int, list[bool]] = {p: [] for p in PERCENTILES}
        for origin in range(start, series.size - horizon + 1, step_weeks):
            forecast = how_many(
                series[:origin], horizon, replace(options, seed=options.seed + origin)
            )
            actual = series[origin : origin + horizon].sum()
            for p in PERCENTILES:
                hits[p].append(bool(actual >= forecast.percentiles[p]))
        origins = len(hits[PERCENTILES[0]])
        if origins == 0:
            raise ValueError(f"the series is too short for a {horizon}-week backtest")
        results.append(
            Calibration(horizon, origins, {p: float(np.mean(v)) for p, v in hits.items()})
        )
    return results

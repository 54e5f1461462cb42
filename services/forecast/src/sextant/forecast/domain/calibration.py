"""How well forecasts have held: rolling-origin backtests of "how many" and "when".

At every origin (every 4 weeks, once a full sampling window of history exists) the
forecast is made from the weeks before the origin only, then compared with what really
happened after it. A well-calibrated P85 holds about 85 % of the time.

- **How many** in ``horizon`` weeks: P85 holds when the real count reached P85's
  unrounded simulated total, less the half item a whole count stands for (a count of 8
  reaches 7.5 to 8.49…, the totals shown as 8). Flooring the totals first, as before,
  credited a count of 7 with reaching 7.9 and over-covered sparse series.
- **When**: the backlog at an origin is what the ``horizon`` weeks before it delivered
  (known at the origin, so a steady team needs about ``horizon`` weeks); P85 holds when
  the real weeks had it done by P85's time, the real finish placed inside its week the
  way the simulation places its own (:func:`~montecarlo.finish_times`). The forecast looks
  ``WHEN_REACH x horizon`` weeks ahead, and only origins with that many real weeks after
  them are scored, so every real finish is seen.

Each row also carries the proper score (CRPS, mean over origins; lower is better: it
rewards being both calibrated and sharp) and the median width of the central 90 %
interval, so a method cannot buy calibration with width unseen.

The bands a row's hit shares should land in widen with fewer origins: see
:func:`coverage_band`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sextant.forecast.domain.montecarlo import (
    PERCENTILES,
    ForecastOptions,
    finish_times,
    finish_weeks,
    how_many_levels,
    simulated_totals,
    when_levels,
)

# Where a calibrated method's hit shares should land (issue #6): nominal ± a band that
# allows for a few hundred origins of sampling noise.
CALIBRATION_TARGETS: dict[int, tuple[float, float]] = {
    50: (0.40, 0.60),
    85: (0.80, 0.90),
    95: (0.90, 0.98),
}
# The share of a calibrated method's backtests whose hit share lands inside its band.
BAND_CONFIDENCE = 0.95
# Trials per origin's forecast unless the options say otherwise
DEFAULT_TRIALS = 4000  # pragma: no mutate (4000 or 4001 trials move no figure a test pins)
# How far a "when" forecast looks, in multiples of the horizon its backlog was sized by.
WHEN_REACH = 3

Kind = Literal["how_many", "when"]


@dataclass(frozen=True)
class Calibration:
    """For one horizon: at how many origins, the share of them each percentile held, the
    band each share should land in, and how sharp and how good (CRPS) the forecasts were.

    Origins are indices into the weekly series (the first week after the history used);
    ``median_width`` is in items for "how many", in weeks for "when"."""

    horizon_weeks: int
    origins: int
    hit_share: dict[int, float]  # percentile → share of origins where it held
    bands: dict[int, tuple[float, float]]
    median_width: float
    mean_crps: float
    kind: Kind
    first_origin: int
    last_origin: int
    step_weeks: int
    crps_by_origin: tuple[float, ...] = ()  # in origin order: what mean_crps averages


@dataclass(frozen=True)
class Scored:
    held: dict[int, bool]
    width: float
    crps: float


def crps(samples: NDArray[Any], actual: float) -> float:
    """Continuous ranked probability score of a sample forecast against what happened:
    E|X - y| - E|X - X'| / 2, the second term from the sorted samples in one pass."""
    return crps_sorted(np.sort(np.asarray(samples, dtype=np.float64)), actual)


def crps_sorted(ordered: NDArray[np.float64], actual: float) -> float:
    """:func:`crps` of samples already sorted."""
    n = ordered.size
    ranks = np.arange(1, n + 1)
    spread = float(np.sum((2 * ranks - n - 1) * ordered)) / (n * n)
    return float(np.mean(np.abs(ordered - actual))) - spread


def _binomial_quantile(trials: int, probability: float, level: float) -> int:
    """The smallest k with P(Binomial(trials, probability) ≤ k) ≥ level."""
    log_p, log_q = math.log(probability), math.log1p(-probability)
    cumulative = 0.0
    for k in range(trials + 1):
        cumulative += math.exp(
            math.lgamma(trials + 1)
            - math.lgamma(k + 1)
            - math.lgamma(trials - k + 1)
            + k * log_p
            + (trials - k) * log_q
        )
        if cumulative >= level:
            return k
    return trials


def independent_origins(origins: int, horizon_weeks: int, step_weeks: int) -> int:
    """How many independent outcomes ``origins`` backtest origins ``step_weeks`` apart
    stand for: origins closer together than the horizon share real weeks, so they count
    as ``origins x step / horizon`` (at least one)."""
    return max(1, int(origins * min(1.0, step_weeks / horizon_weeks)))


def coverage_band(
    percentile: int, origins: int, horizon_weeks: int, step_weeks: int
) -> tuple[float, float]:
    """Where a calibrated method's hit share lands with 95 % probability, given the origins.

    Each origin's hit is a coin with the nominal probability, so the share of hits is
    binomial over the independent origins (:func:`independent_origins`). The band is the
    central 95 % of that binomial, never narrower than the fixed target (which allows for
    what sampling noise cannot explain). Few origins → a wide band, not a false alarm."""
    nominal = percentile / 100
    independent = independent_origins(origins, horizon_weeks, step_weeks)
    tail = (1 - BAND_CONFIDENCE) / 2
    low = _binomial_quantile(independent, nominal, tail) / independent
    high = _binomial_quantile(independent, nominal, 1 - tail) / independent
    fixed_low, fixed_high = CALIBRATION_TARGETS.get(percentile, (nominal, nominal))
    return (min(fixed_low, low), max(fixed_high, high))


def summary(
    horizon: int,
    kind: Kind,
    origins: Sequence[int],
    step_weeks: int,
    scored: Sequence[Scored],
) -> Calibration:
    """One backtest row from each origin's score."""
    return Calibration(
        horizon_weeks=horizon,
        origins=len(origins),
        hit_share={p: float(np.mean([s.held[p] for s in scored])) for p in PERCENTILES},
        bands={p: coverage_band(p, len(origins), horizon, step_weeks) for p in PERCENTILES},
        median_width=float(np.median([s.width for s in scored])),
        mean_crps=float(np.mean([s.crps for s in scored])),
        kind=kind,
        first_origin=origins[0],
        last_origin=origins[-1],
        step_weeks=step_weeks,
        crps_by_origin=tuple(s.crps for s in scored),
    )


def reach_of(kind: Kind, horizon: int) -> int:
    """How many weeks after an origin its forecast looks (module docstring)."""
    return WHEN_REACH * horizon if kind == "when" else horizon


def scored_origins(
    series: NDArray[np.float64], kind: Kind, horizon: int, step: int, start: int
) -> list[int]:
    """The origins a backtest scores: every ``step`` weeks from ``start`` while the weeks
    the forecast looks at are all known."""
    origins = list(range(start, series.size - reach_of(kind, horizon) + 1, step))
    if not origins:
        raise ValueError(f"the series is too short for a {horizon}-week backtest")
    return origins


def origin_forecast(
    series: NDArray[np.float64], origin: int, kind: Kind, horizon: int, options: ForecastOptions
) -> tuple[NDArray[np.float64], float]:
    """What a forecast made at ``origin`` from the weeks before it sampled (totals, or
    finish weeks), and what really happened after it."""
    seeded = replace(options, seed=options.seed + origin)
    if kind == "how_many":
        totals = simulated_totals(series[:origin], horizon, seeded)
        return totals, float(series[origin : origin + horizon].sum())
    reach = reach_of(kind, horizon)
    items = max(1, round(float(series[max(0, origin - horizon) : origin].sum())))
    weeks = finish_weeks(series[:origin], items, seeded, reach)
    real = np.cumsum(series[origin : origin + reach])[None, :]
    return weeks, float(finish_times(real, np.full(reach, items))[0])


def score(kind: Kind, samples: NDArray[Any], actual: float, reach: int) -> Scored:
    """Which percentiles held, how wide and how good (CRPS) one forecast was."""
    return scores(kind, [samples], actual, reach)[0]


def scores(
    kind: Kind, forecasts: Sequence[NDArray[Any]], actual: float, reach: int
) -> list[Scored]:
    """:func:`score` for several forecasts of one origin (as many samples each), computed
    together: a choice among candidates scores thousands."""
    table = np.sort(np.asarray(forecasts, dtype=np.float64), axis=1)
    if kind == "how_many":
        levels = how_many_levels(table)  # (percentiles, forecasts)
        held = actual >= levels - 0.5
    else:
        # a percentile beyond the reach holds: the real finish was no later than that
        levels = when_levels(table)
        held = (levels > reach) | (actual <= levels)
    low, high = np.percentile(table, [5, 95], axis=1)
    return [
        Scored(
            {p: bool(held[i, f]) for i, p in enumerate(PERCENTILES)},
            float(high[f] - low[f]),
            crps_sorted(table[f], actual),
        )
        for f in range(table.shape[0])
    ]


def crps_difference_interval(ours: Calibration, theirs: Calibration) -> tuple[float, float]:
    """How much lower or higher ``ours`` mean CRPS is than ``theirs`` on the same origins,
    as a 95 % interval of the ratio of the means (a Diebold-Mariano comparison).

    The per-origin differences are not independent: origins closer together than a
    forecast's reach score overlapping real weeks. Their variance is the Newey-West
    (Bartlett) long-run variance over lags up to ``reach / step - 1``, so a row whose ratio
    is 1.02 on a few hundred overlapping origins can be told from noise, or not."""
    if ours.crps_by_origin == () or len(ours.crps_by_origin) != len(theirs.crps_by_origin):
        raise ValueError("both backtests must score the same origins")
    differences = np.subtract(ours.crps_by_origin, theirs.crps_by_origin)
    n = differences.size
    centred = differences - differences.mean()
    reach = ours.horizon_weeks * (WHEN_REACH if ours.kind == "when" else 1)
    lags = min(n - 1, math.ceil(reach / ours.step_weeks) - 1)
    variance = float(centred @ centred) / n
    for lag in range(1, lags + 1):
        variance += 2 * (1 - lag / (lags + 1)) * float(centred[lag:] @ centred[:-lag]) / n
    half = 1.96 * math.sqrt(max(variance, 0.0) / n)
    base = theirs.mean_crps
    if base == 0:
        raise ValueError("the reference forecast scored 0 everywhere: no ratio")
    middle = float(differences.mean())
    return (1 + (middle - half) / base, 1 + (middle + half) / base)


def backtest(
    weekly: Sequence[float] | NDArray[Any],
    horizons: tuple[int, ...] = (4, 12),
    *,
    step_weeks: int = 4,
    options: ForecastOptions | None = None,
    first_origin: int | None = None,
    kind: Kind = "how_many",
) -> list[Calibration]:
    """Rolling-origin backtest of "how many" (or ``kind="when"``) forecasts over a weekly
    throughput series (module docstring: how a "when" backlog is sized)."""
    options = options or ForecastOptions(trials=DEFAULT_TRIALS)
    series = np.asarray(weekly, dtype=np.float64)
    start = first_origin if first_origin is not None else options.window_weeks
    rows = []
    for horizon in horizons:
        origins = scored_origins(series, kind, horizon, step_weeks, start)
        scored = [
            score(
                kind, *origin_forecast(series, o, kind, horizon, options), reach_of(kind, horizon)
            )
            for o in origins
        ]
        rows.append(summary(horizon, kind, origins, step_weeks, scored))
    return rows


def backtest_when(
    weekly: Sequence[float] | NDArray[Any],
    horizons: tuple[int, ...] = (4, 12),
    *,
    step_weeks: int = 4,
    options: ForecastOptions | None = None,
    first_origin: int | None = None,
) -> list[Calibration]:
    """Rolling-origin backtest of "when" forecasts (module docstring: how a backlog is sized)."""
    return backtest(
        weekly,
        horizons,
        step_weeks=step_weeks,
        options=options,
        first_origin=first_origin,
        kind="when",
    )

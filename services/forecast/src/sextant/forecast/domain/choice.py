"""Choosing how wide a forecast is from the series' own past.

The blocks-and-level method (:mod:`montecarlo`) keeps its calibration bands where plain
resampling misses them, but it pays in sharpness on a series plain resampling serves well:
on git its CRPS was 1-2 % above plain's. Neither forecast is right everywhere, so each
forecast is made from both:

1. **The blend.** The method's and plain resampling's samples are averaged quantile by
   quantile (sorted, then averaged pairwise). CRPS is the mean of the quantile (pinball)
   losses over all levels, and each is convex in the quantile, so the blend scores at
   most the mean of the two, and less wherever they disagree.
2. **Widened as far as the past says.** The blend is widened around its median by each k
   in :data:`WIDENINGS`. Every such candidate is scored at every past origin whose outcome
   is known (every 4th week after a full window, as the backtest does). The candidates
   whose hit shares at P50, P85 and P95 lie inside their bands (:func:`coverage_band` for
   that many origins) qualify, and the one with the lowest mean CRPS is used: the best
   score among the forecasts the series' own past calls calibrated.
3. **Otherwise the method.** With fewer than :data:`MIN_SCORED` scored past origins, or
   no candidate qualifying, the forecast is the method's, which insures against a change
   of pace the past cannot yet speak to. Where the whole past looks like independent weeks
   (:func:`montecarlo.sampled_options`) the forecast stays plain resampling, unblended.

The backtest shown with a forecast (:func:`backtest`) chooses the same way at each of its
origins, from the origins before it only. The figures, against the method and plain
resampling on every corpus file and shape, are in the service README.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sextant.forecast.domain.calibration import (
    CALIBRATION_TARGETS,
    WHEN_REACH,
    Calibration,
    Kind,
    Scored,
    coverage_band,
    origin_forecast,
    reach_of,
    scores,
    summary,
)
from sextant.forecast.domain.montecarlo import (
    PERCENTILES,
    ForecastOptions,
    HowManyForecast,
    WhenForecast,
    finish_weeks,
    how_many_of,
    plain_options,
    sampled_options,
    sampled_window,
    simulated_totals,
    when_of,
)

WIDENINGS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7)
"""The blend's candidate widenings around its median (README: with 1, 1.3 and 1.5 only,
33 of 36 rows and 13 cells outside, 38 of 44 and 21 on the held-out shapes; these give 33
and 12, 40 and 21)."""
MIN_SCORED = 8  # past origins with a known outcome needed before the past chooses
STEP_WEEKS = 4  # weeks between the past origins scored
PAST_TRIALS = 2000  # pragma: no mutate (per past origin: the choice needs scores, not detail)
PASTS_CACHED = 256  # pragma: no mutate (scored pasts kept, ~20 kB each at 520 weeks)
_QUALIFYING = tuple(CALIBRATION_TARGETS)  # P50, P85, P95: the percentiles with bands


def blend(method: NDArray[Any], plain: NDArray[Any]) -> NDArray[np.float64]:
    """The two forecasts' samples averaged quantile by quantile (equal numbers of each)."""
    ordered = np.sort(np.asarray(method, dtype=np.float64))
    averaged: NDArray[np.float64] = (ordered + np.sort(np.asarray(plain, dtype=np.float64))) / 2
    return averaged


def widened(samples: NDArray[Any], k: float, beyond: float | None = None) -> NDArray[np.float64]:
    """``samples`` spread ``k`` times as far from their median, never below 0. Samples past
    ``beyond`` (a "when" forecast's "not within the horizon") stay where they are."""
    values = np.asarray(samples, dtype=np.float64)
    median = float(np.median(values))
    spread = median + k * (values - median)
    if beyond is not None:
        spread = np.where(values > beyond, values, spread)
    out: NDArray[np.float64] = np.maximum(spread, 0.0)
    return out


def candidates(
    method: NDArray[Any], plain: NDArray[Any], beyond: float | None = None
) -> list[NDArray[np.float64]]:
    """The method's samples, then the blend widened by each of :data:`WIDENINGS`."""
    mixed = blend(method, plain)
    return [np.asarray(method, dtype=np.float64)] + [widened(mixed, k, beyond) for k in WIDENINGS]


@dataclass(frozen=True)
class Past:
    """Every candidate's score at every past origin, one row an origin and one column a
    candidate (0: the method; then one per widening). ``independent``: origins whose past
    looked like independent weeks, where every forecast was plain resampling. Read-only:
    pasts are cached and shared (:func:`score_past`)."""

    kind: Kind
    horizon: int
    step_weeks: int
    origins: NDArray[np.int64]
    independent: NDArray[np.bool_]
    crps: NDArray[np.float64]  # (origins, candidates)
    held: NDArray[np.bool_]  # (origins, candidates, PERCENTILES)
    width: NDArray[np.float64]  # (origins, candidates)

    @property
    def reach(self) -> int:
        return reach_of(self.kind, self.horizon)

    def scored(self, origin: int, candidate: int) -> Scored:
        """One candidate's score at one origin (by their indices)."""
        held = {p: bool(self.held[origin, candidate, i]) for i, p in enumerate(PERCENTILES)}
        return Scored(
            held, float(self.width[origin, candidate]), float(self.crps[origin, candidate])
        )


def score_past(
    series: Sequence[float] | NDArray[Any],
    kind: Kind,
    horizon: int,
    options: ForecastOptions,
    *,
    step_weeks: int = STEP_WEEKS,
) -> Past:
    """Score the candidates at every origin from a full window on whose outcome is known
    (none: an empty table). Cached by the history and the question: a history changes
    once a week, and a forecast's answer and its backtest often ask for the same past."""
    # the weeks' bytes as the key: 8 bytes a week, hashed at C speed (a tuple of floats
    # would take four times the memory of the past it keys)
    history = np.ascontiguousarray(series, dtype=np.float64).tobytes()
    return _scored_past(history, kind, horizon, options, step_weeks)


def forget_pasts() -> None:
    """Empty the cache of scored pasts (benchmarks measure a first request with it)."""
    _scored_past.cache_clear()


@functools.lru_cache(maxsize=PASTS_CACHED)
def _scored_past(
    history: bytes, kind: Kind, horizon: int, options: ForecastOptions, step_weeks: int
) -> Past:
    values = np.frombuffer(history, dtype=np.float64)
    plain = plain_options(options)
    reach = reach_of(kind, horizon)
    origins = np.arange(options.window_weeks, values.size - reach + 1, step_weeks, dtype=np.int64)
    beyond = float(reach) if kind == "when" else None
    shape = (origins.size, 1 + len(WIDENINGS))
    crps, width = np.zeros(shape), np.zeros(shape)
    held = np.zeros((*shape, len(PERCENTILES)), dtype=bool)
    independent = np.zeros(origins.size, dtype=bool)
    for row, origin in enumerate(origins):
        method, actual = origin_forecast(values, int(origin), kind, horizon, options)
        others, _ = origin_forecast(values, int(origin), kind, horizon, plain)
        independent[row] = sampled_options(values[:origin], options)[0] != options
        for column, scored in enumerate(
            scores(kind, candidates(method, others, beyond), actual, reach)
        ):
            crps[row, column], width[row, column] = scored.crps, scored.width
            held[row, column] = [scored.held[p] for p in PERCENTILES]
    past = Past(kind, horizon, step_weeks, origins, independent, crps, held, width)
    for array in (past.origins, past.independent, past.crps, past.held, past.width):
        array.setflags(write=False)
    return past


class Chooser:
    """:func:`choose` at many origins of one :class:`Past` (its tables built once)."""

    def __init__(self, past: Past) -> None:
        self.past = past
        self._held = past.held[:, :, [PERCENTILES.index(p) for p in _QUALIFYING]]

    def known(self, before: int) -> NDArray[np.bool_]:
        """The past origins whose outcome was known by week ``before``."""
        known: NDArray[np.bool_] = self.past.origins + self.past.reach <= before
        return known

    def choose(self, before: int) -> int:
        """The candidate a forecast made at week ``before`` uses (0: the method): among the
        blends whose hit shares at the origins known by then lie inside their bands, the
        lowest mean CRPS."""
        known = self.known(before)
        count = int(known.sum())
        if count < MIN_SCORED:
            return 0
        shares = self._held[known].mean(axis=0)  # (candidates, percentiles)
        bands = [
            coverage_band(p, count, self.past.horizon, self.past.step_weeks) for p in _QUALIFYING
        ]
        low = np.array([band[0] for band in bands])
        high = np.array([band[1] for band in bands])
        inside = np.all((shares >= low) & (shares <= high), axis=1)
        inside[0] = False  # the method is the fallback, not a candidate
        if not inside.any():
            return 0
        mean_crps = np.where(inside, self.past.crps[known].mean(axis=0), np.inf)
        return int(np.argmin(mean_crps))


def choose(past: Past, before: int) -> int:
    """The candidate a forecast made at week ``before`` uses (:meth:`Chooser.choose`)."""
    return Chooser(past).choose(before)


def described(candidate: int, known: int) -> str:
    """What the past chose, for the reply's ``model``."""
    if candidate == 0 and known < MIN_SCORED:
        return f"too little past to choose a blend ({known} of {MIN_SCORED} past origins scored)"
    if candidate == 0:
        return f"no blend held its bands at {known} past origins"
    return (
        f"blocks and level averaged with single weeks, widened {WIDENINGS[candidate - 1]:g}x:"
        f" the calibrated blend with the lowest CRPS at {known} past origins"
    )


def how_many(
    history: Sequence[float] | NDArray[Any], horizon_weeks: int, options: ForecastOptions
) -> HowManyForecast:
    """The distribution of items done within ``horizon_weeks``, chosen (module docstring)."""
    sampled, model = sampled_options(history, options)
    method = simulated_totals(history, horizon_weeks, options)
    window = sampled_window(history, options)
    if sampled != options:  # independent weeks, or options that asked for plain
        return how_many_of(method, horizon_weeks, sampled, model, window)
    past = score_past(history, "how_many", horizon_weeks, replace(options, trials=PAST_TRIALS))
    chosen, why = _chosen(past, len(history))
    if chosen == 0:
        return how_many_of(method, horizon_weeks, options, f"{model}; {why}", window)
    plain = simulated_totals(history, horizon_weeks, plain_options(options))
    return how_many_of(candidates(method, plain)[chosen], horizon_weeks, options, why, window)


def _chosen(past: Past, now: int) -> tuple[int, str]:
    """The candidate a forecast made now uses, and why (:func:`described`)."""
    chooser = Chooser(past)
    chosen = chooser.choose(now)
    return chosen, described(chosen, int(chooser.known(now).sum()))


def backlog_weeks(
    history: Sequence[float] | NDArray[Any], items: int, options: ForecastOptions, max_weeks: int
) -> int:
    """How many weeks the backlog takes at the window's pace: the horizon whose past
    "when" forecasts (backlogs sized by that many weeks' output) stand for this one."""
    pace = float(np.mean(sampled_window(history, options))) * options.capacity_factor
    longest = max(1, max_weeks // WHEN_REACH)
    if pace <= 0:
        return longest
    return min(longest, max(1, math.ceil(items * options.split_rate / pace)))


def when(
    history: Sequence[float] | NDArray[Any],
    items: int,
    options: ForecastOptions,
    max_weeks: int = 104,
) -> WhenForecast:
    """Weeks until ``items`` are done, chosen (module docstring). The past is scored on
    backlogs the same number of weeks' work as this one (:func:`backlog_weeks`)."""
    sampled, model = sampled_options(history, options)
    method = finish_weeks(history, items, options, max_weeks)
    if sampled != options:
        return when_of(method, items, sampled, model, max_weeks)
    horizon = backlog_weeks(history, items, options, max_weeks)
    past = score_past(history, "when", horizon, replace(options, trials=PAST_TRIALS))
    chosen, why = _chosen(past, len(history))
    if chosen == 0:
        return when_of(method, items, options, f"{model}; {why}", max_weeks)
    plain = finish_weeks(history, items, plain_options(options), max_weeks)
    weeks = candidates(method, plain, float(max_weeks))[chosen]
    return when_of(weeks, items, options, why, max_weeks)


def backtest_row(past: Past, first_origin: int, *, method_only: bool = False) -> Calibration:
    """The backtest of these forecasts at the past's origins from ``first_origin`` on: at
    each, the candidate :meth:`Chooser.choose` took from the origins before it (or the
    method's, ``method_only``), scored."""
    chooser = Chooser(past)
    shown = [i for i, origin in enumerate(past.origins) if origin >= first_origin]
    if not shown:
        raise ValueError(f"the series is too short for a {past.horizon}-week backtest")

    def chosen(i: int) -> int:
        if method_only or past.independent[i]:
            return 0
        return chooser.choose(int(past.origins[i]))

    scored = [past.scored(i, chosen(i)) for i in shown]
    origins = [int(past.origins[i]) for i in shown]
    return summary(past.horizon, past.kind, origins, past.step_weeks, scored)


def backtest(
    weekly: Sequence[float] | NDArray[Any],
    horizons: tuple[int, ...],
    *,
    kind: Kind,
    options: ForecastOptions,
    first_origin: int | None = None,
) -> list[Calibration]:
    """The rolling-origin backtest of these forecasts (:func:`backtest_row`), one row per
    horizon; origins every 4 weeks after a full window, shown from ``first_origin`` on."""
    start = first_origin if first_origin is not None else options.window_weeks
    return [backtest_row(score_past(weekly, kind, h, options), start) for h in horizons]

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
3. **Recentred where the past was off one way.** A series whose pace grows or shrinks for
   years leaves every forecast from a trailing window behind it: the blend's medians fell
   short (or overshot) at the past origins, one way, again and again. Where the mean of
   those errors (log scale) lies :data:`BIAS_T` standard errors or more from 0
   (:func:`recentring_factor`), the candidates also include each widened blend recentred
   by what the past delivered over what its medians said, and the past scores those too;
   no clear lean, no recentred candidates. They are chosen among as in 2.
4. **Otherwise the method.** With fewer than :data:`MIN_SCORED` scored past origins, or
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
    independent_origins,
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
"""The blend's candidate widenings around its median (README, measured before recentring:
with 1, 1.3 and 1.5 only, 33 of 36 rows and 13 cells outside, 38 of 44 and 21 on the
held-out shapes; these gave 33 and 12, 40 and 21)."""
FIRST_RECENTRED = 1 + len(WIDENINGS)
"""The candidates' layout (:func:`candidates`): 0 the method, 1 … 7 the blend widened by
each of :data:`WIDENINGS`, 8 … 14 the blend recentred, widened by each."""
MIN_SCORED = 8  # past origins with a known outcome needed before the past chooses
BIAS_T = 2.0
"""How many standard errors from 0 the past's mean error (log scale) must lie before
forecasts are recentred (README: at 2, 4 and 4 cells outside their bands, no corpus row
moved; at 3, 5 and 11; recentring wherever the past leant, 5 and 2 cells but only 30 of
36 rows at or under plain's CRPS)."""
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


def recentred(
    samples: NDArray[Any], factor: float, beyond: float | None = None
) -> NDArray[np.float64]:
    """``samples`` times ``factor``; samples past ``beyond`` (a "when" forecast's "not
    within the horizon") stay where they are."""
    values = np.asarray(samples, dtype=np.float64)
    if beyond is None:
        scaled: NDArray[np.float64] = values * factor
        return scaled
    kept: NDArray[np.float64] = np.where(values > beyond, values, values * factor)
    return kept


def candidates(
    method: NDArray[Any], plain: NDArray[Any], beyond: float | None = None, factor: float = 1.0
) -> list[NDArray[np.float64]]:
    """The method's samples, the blend widened by each of :data:`WIDENINGS`, then the blend
    recentred by ``factor`` (:func:`recentring_factor`) widened by each (the same as the
    second group when ``factor`` is 1: the same arrays, not built twice). Layout:
    :data:`FIRST_RECENTRED`."""
    mixed = blend(method, plain)
    spread = [widened(mixed, k, beyond) for k in WIDENINGS]
    if factor == 1.0:  # pragma: no mutate (a shortcut: recentring by 1 builds the same)
        moved = spread
    else:
        moved = [widened(recentred(mixed, factor, beyond), k, beyond) for k in WIDENINGS]
    return [np.asarray(method, dtype=np.float64), *spread, *moved]


def recentring_factor(
    medians: NDArray[Any], actuals: NDArray[Any], horizon: int, step_weeks: int
) -> float:
    """What the past delivered over what its forecasts' medians said (total actuals over
    total medians), where they were off one way: the mean of log(1 + actual) - log(1 +
    median) at least :data:`BIAS_T` standard errors from 0, the origins counted as
    independent ones (:func:`independent_origins`), and the factor on the same side of 1
    as that mean (errors on scales far apart can tell the two apart). 1 otherwise: with
    fewer than :data:`MIN_SCORED` origins, or nothing forecast or nothing delivered in
    all of them. For a "when" forecast these are weeks: above 1, the work took longer
    than forecast."""
    medians = np.asarray(medians, dtype=np.float64)
    actuals = np.asarray(actuals, dtype=np.float64)
    if medians.size < MIN_SCORED or medians.sum() <= 0 or actuals.sum() <= 0:
        return 1.0
    errors = np.log1p(actuals) - np.log1p(medians)
    mean = float(errors.mean())
    spread = float(errors.std(ddof=1))
    counted = independent_origins(medians.size, horizon, step_weeks)
    factor = float(actuals.sum() / medians.sum())
    if abs(mean) < BIAS_T * spread / math.sqrt(counted) or (factor > 1) != (mean > 0):
        return 1.0  # (errors all 0 are no lean either: their factor is 1)
    return factor


def known_by(origins: NDArray[np.int64], reach: int, before: int) -> NDArray[np.bool_]:
    """Which of ``origins`` had their outcome (``reach`` weeks after) known by ``before``."""
    known: NDArray[np.bool_] = origins + reach <= before
    return known


@dataclass(frozen=True)
class Past:
    """Every candidate's score at every past origin, one row an origin and one column a
    candidate (:func:`candidates`: 0 the method, then one per widening, then one per
    widening recentred). ``independent``: origins whose past looked like independent weeks,
    where every forecast was plain resampling. ``medians`` and ``actuals``: the blend's
    median and what happened, at each origin (:func:`recentring_factor` reads them). Read-only:
    pasts are cached and shared (:func:`score_past`)."""

    kind: Kind
    horizon: int
    step_weeks: int
    origins: NDArray[np.int64]
    independent: NDArray[np.bool_]
    crps: NDArray[np.float64]  # (origins, candidates)
    held: NDArray[np.bool_]  # (origins, candidates, PERCENTILES)
    width: NDArray[np.float64]  # (origins, candidates)
    medians: NDArray[np.float64]  # (origins,)
    actuals: NDArray[np.float64]  # (origins,)

    @property
    def reach(self) -> int:
        return reach_of(self.kind, self.horizon)

    def known(self, before: int) -> NDArray[np.bool_]:
        """The origins whose outcome was known by week ``before``."""
        return known_by(self.origins, self.reach, before)

    def recentring(self, before: int) -> float:
        """:func:`recentring_factor` of the origins known by week ``before``."""
        known = self.known(before)
        return recentring_factor(
            self.medians[known], self.actuals[known], self.horizon, self.step_weeks
        )

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
    shape = (origins.size, FIRST_RECENTRED + len(WIDENINGS))
    crps, width = np.zeros(shape), np.zeros(shape)
    held = np.zeros((*shape, len(PERCENTILES)), dtype=bool)
    independent = np.zeros(origins.size, dtype=bool)
    medians, actuals = np.zeros(origins.size), np.zeros(origins.size)
    for row, origin in enumerate(origins):
        method, actual = origin_forecast(values, int(origin), kind, horizon, options)
        others, _ = origin_forecast(values, int(origin), kind, horizon, plain)
        independent[row] = sampled_options(values[:origin], options)[0] != options
        medians[row], actuals[row] = float(np.median(blend(method, others))), actual
        known = known_by(origins[:row], reach, int(origin))
        factor = recentring_factor(medians[:row][known], actuals[:row][known], horizon, step_weeks)
        made = candidates(method, others, beyond, factor)
        # the recentred group repeats the widened one: scored once, copied (a shortcut)
        if factor == 1.0:  # pragma: no mutate
            scored = scores(kind, made[:FIRST_RECENTRED], actual, reach)
            scored += scored[1:]
        else:
            scored = scores(kind, made, actual, reach)
        for column, one in enumerate(scored):
            crps[row, column], width[row, column] = one.crps, one.width
            held[row, column] = [one.held[p] for p in PERCENTILES]
    past = Past(
        kind, horizon, step_weeks, origins, independent, crps, held, width, medians, actuals
    )
    for array in (
        past.origins,
        past.independent,
        past.crps,
        past.held,
        past.width,
        past.medians,
        past.actuals,
    ):
        array.setflags(write=False)
    return past


class Chooser:
    """:func:`choose` at many origins of one :class:`Past` (its tables built once)."""

    def __init__(self, past: Past) -> None:
        self.past = past
        self._held = past.held[:, :, [PERCENTILES.index(p) for p in _QUALIFYING]]

    def choose(self, before: int) -> int:
        """The candidate a forecast made at week ``before`` uses (0: the method): among the
        blends whose hit shares at the origins known by then lie inside their bands, the
        lowest mean CRPS; the recentred ones only where the past by then leant one way
        (:meth:`Past.recentring`), as they would be the widened ones again otherwise."""
        known = self.past.known(before)
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
        if self.past.recentring(before) == 1.0:
            inside[FIRST_RECENTRED:] = False
        if not inside.any():
            return 0
        mean_crps = np.where(inside, self.past.crps[known].mean(axis=0), np.inf)
        return int(np.argmin(mean_crps))


def choose(past: Past, before: int) -> int:
    """The candidate a forecast made at week ``before`` uses (:meth:`Chooser.choose`)."""
    return Chooser(past).choose(before)


def described(candidate: int, known: int, factor: float) -> str:
    """What the past chose, for the reply's ``model`` (``factor``: :meth:`Past.recentring`)."""
    if candidate == 0 and known < MIN_SCORED:
        return f"too little past to choose a blend ({known} of {MIN_SCORED} past origins scored)"
    if candidate == 0:
        return f"no blend held its bands at {known} past origins"
    moved = ""
    if candidate >= FIRST_RECENTRED:
        moved = f" recentred {factor:.3g}x (the past's outcomes over its forecasts' medians),"
    return (
        f"blocks and level averaged with single weeks,{moved}"
        f" widened {WIDENINGS[(candidate - 1) % len(WIDENINGS)]:g}x:"
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
    chosen, factor, why = _chosen(past, len(history))
    if chosen == 0:
        return how_many_of(method, horizon_weeks, options, f"{model}; {why}", window)
    plain = simulated_totals(history, horizon_weeks, plain_options(options))
    totals = candidates(method, plain, factor=factor)[chosen]
    return how_many_of(totals, horizon_weeks, options, why, window)


def _chosen(past: Past, now: int) -> tuple[int, float, str]:
    """The candidate a forecast made now uses, the recentring by then
    (:meth:`Past.recentring`) and why (:func:`described`)."""
    chosen, factor = Chooser(past).choose(now), past.recentring(now)
    return chosen, factor, described(chosen, int(past.known(now).sum()), factor)


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
    chosen, factor, why = _chosen(past, len(history))
    if chosen == 0:
        return when_of(method, items, options, f"{model}; {why}", max_weeks)
    plain = finish_weeks(history, items, plain_options(options), max_weeks)
    weeks = candidates(method, plain, float(max_weeks), factor)[chosen]
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

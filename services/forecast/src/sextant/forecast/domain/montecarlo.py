"""Monte Carlo delivery forecasts from weekly throughput, vectorized and seeded.

Why not plain resampling of single weeks: real throughput drifts and neighbouring weeks
are alike, so sums of independently drawn weeks are too narrow — measured here at
64-82 % hits for a nominal 85 % on three public repositories. Two things fix that:

1. **Block bootstrap.** Weeks are drawn in blocks of consecutive weeks (4 by default)
   from the sampling window, so short-range dependence (holidays, release crunches,
   a busy month) carries into the simulated future.
2. **Level uncertainty.** Each trial also draws how fast the team is going overall: a
   lognormal factor whose spread is the spread of the window's quarterly (13-week)
   mean rates on a log scale. A team whose pace wandered a lot between quarters gets
   wider forecasts; a steady team keeps narrow ones. Nothing is tuned per data set.
   The factor is centred on the latest quarter's pace as far as such departures have
   lasted in the series' own past (:func:`level_persistence`; an empirical-Bayes weight
   from the window while there is too little past to tell).

Neither is used where the series' whole past gives no reason to doubt that its weeks are
independent draws from one pace (:mod:`independence`): there plain resampling is the right
model, and the machinery would only cost sharpness (:func:`sampled_options`).

The rolling-origin backtest in :mod:`calibration` holds this method to its nominal
coverage; users see that calibration next to every forecast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from sextant.forecast.domain.independence import ALPHA, independence_p

PERCENTILES = (50, 70, 85, 95)
_QUARTER_WEEKS = 13
_CHUNK_TRIALS = 25_000  # bounds memory: one chunk is trials x weeks float32 values
_ORIGIN_STEP = 4  # weeks between the past origins level_persistence looks back from
_PERSISTENCE_ORIGINS = 8  # past origins needed before the series' own persistence is used


@dataclass(frozen=True)
class ForecastOptions:
    """The knobs the best tools offer; every result echoes the ones it used."""

    trials: int = 10_000
    seed: int = 0
    window_weeks: int = 52
    block_weeks: int = 4
    level_uncertainty: bool = True
    recent_level: bool = True  # centre the level factor on the latest quarter's pace
    plain_when_independent: bool = True  # single weeks, no level, if the past allows it
    capacity_factor: float = 1.0  # share of the team's throughput available (focus)
    split_rate: float = 1.0  # items a backlog item turns into when worked
    scope_growth_per_week: float = 0.0  # items added to the backlog each week

    def __post_init__(self) -> None:
        if self.trials < 1 or self.window_weeks < 1 or self.block_weeks < 1:
            raise ValueError("trials, window_weeks and block_weeks must be positive")
        if not 0 < self.capacity_factor <= 10:
            raise ValueError("capacity_factor must be in (0, 10]")
        if self.split_rate < 1 or self.scope_growth_per_week < 0:
            raise ValueError("split_rate must be ≥ 1 and scope growth ≥ 0")


@dataclass(frozen=True)
class HowManyForecast:
    """Items done within the horizon. ``totals[85]`` is the simulated total reached with
    85 % probability (unrounded: the backtest scores it), so higher percentiles are smaller
    counts. ``percentiles`` are the same rounded to the nearest whole item, for display:
    simulated totals are continuous (the level factor scales them), and a whole count k
    stands for the totals from k - ½ to k + ½ (a continuity correction)."""

    horizon_weeks: int
    percentiles: dict[int, int]
    totals: dict[int, float]
    curve: list[tuple[int, float]]  # (count, probability of reaching at least it)
    options: dict[str, Any]  # as simulated (see model)
    model: str  # which model was sampled, and why (:func:`sampled_options`)
    window: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class WhenForecast:
    """Weeks until the backlog is done; ``percentiles[85]``: done within that many weeks
    with 85 % probability (so higher percentiles are later). ``None``: beyond the horizon.

    Weeks are fractional: the finish is placed inside the week that reaches the backlog by
    the share of that week's items still needed (3.4: two fifths into the fourth week), so
    an answer is a day, not the end of a week — whole weeks made P50 hold up to 67 % of
    the time in the backtest, for no reason but rounding."""

    items: int
    percentiles: dict[int, float | None]
    curve: list[tuple[int, float]]  # (whole week, probability of being done by its end)
    done_within_horizon: float
    max_weeks: int
    options: dict[str, Any]  # as simulated (see model)
    model: str  # which model was sampled, and why (:func:`sampled_options`)


def sampled_options(
    history: Sequence[float] | NDArray[Any], options: ForecastOptions
) -> tuple[ForecastOptions, str]:
    """The options a simulation runs with, and why: plain resampling of single weeks when
    the whole history was tested and gave no reason to doubt independent weeks, the
    options as given otherwise."""
    sampled_window(history, options)  # a history that cannot be sampled is refused first, and why
    if not options.plain_when_independent or (
        options.block_weeks == 1 and not options.level_uncertainty
    ):
        return options, "as asked"
    p = independence_p(history)
    if p is None:
        return options, "blocks and level: too little past to test its weeks (under 52)"
    if p < ALPHA:
        shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        return options, f"blocks and level: the past's weeks are not independent ({shown})"
    return (
        plain_options(options),
        f"single weeks: nothing in the past says its weeks are not independent (p = {p:.2f})",
    )


def plain_options(options: ForecastOptions) -> ForecastOptions:
    """The same options for plain resampling: single weeks, no level factor."""
    return replace(options, block_weeks=1, level_uncertainty=False)


def sampled_window(
    history: Sequence[float] | NDArray[Any], options: ForecastOptions
) -> NDArray[np.float32]:
    values = np.asarray(history, dtype=np.float32)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("throughput history must be a non-empty list of weekly counts")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("weekly counts must be finite and non-negative")
    return values[-options.window_weeks :]


def level_sigma(window: NDArray[np.float32]) -> float:
    """Spread of the window's quarterly mean rates on a log scale (0 when too short)."""
    quarters = window.size // _QUARTER_WEEKS
    if quarters < 2:
        return 0.0
    means = window[-quarters * _QUARTER_WEEKS :].reshape(quarters, _QUARTER_WEEKS).mean(axis=1)
    return float(np.std(np.log1p(means)))


def level_persistence(history: Sequence[float] | NDArray[Any], window_weeks: int) -> float | None:
    """How much of a quarter's departure from its window's pace lasted into the next
    quarter, in this series' own past: at every 4th week with a full window before it and
    a quarter after it, the latest quarter's and the next quarter's log mean rate less the
    window's; the slope through 0 of the second on the first, clipped to [0, 1]. None with
    fewer than 8 such origins.

    Why: the window's quarters alone cannot tell a lasting change of pace from a passing
    one (four quarters are too few); trusting the latest quarter fully cost sympy and git
    CRPS, ignoring it cost the regime-change and trending series (README)."""
    values = np.asarray(history, dtype=np.float64)
    ends = np.arange(window_weeks, values.size - _QUARTER_WEEKS + 1, _ORIGIN_STEP)
    if ends.size < _PERSISTENCE_ORIGINS:
        return None
    total = np.concatenate(([0.0], np.cumsum(values)))

    def log_rate(starts: NDArray[Any], stops: NDArray[Any]) -> NDArray[np.float64]:
        rates: NDArray[np.float64] = np.log1p((total[stops] - total[starts]) / (stops - starts))
        return rates

    window = log_rate(ends - window_weeks, ends)
    latest = log_rate(ends - _QUARTER_WEEKS, ends) - window
    after = log_rate(ends, ends + _QUARTER_WEEKS) - window
    spread = float(latest @ latest)
    if spread == 0.0:
        return 0.0
    return float(np.clip(latest @ after / spread, 0.0, 1.0))


def level_shift(window: NDArray[np.float32], persistence: float | None = None) -> float:
    """How far the latest quarter's pace sits from the window's, on a log scale, times
    ``persistence`` (:func:`level_persistence`); without it, shrunk by how much of the
    quarters' spread week-to-week noise alone would explain, an empirical-Bayes estimate
    of the current level. 0 when the window has fewer than two quarters."""
    quarters = window.size // _QUARTER_WEEKS
    if quarters < 2:
        return 0.0
    table = (
        window[-quarters * _QUARTER_WEEKS :].reshape(quarters, _QUARTER_WEEKS).astype(np.float64)
    )
    means = table.mean(axis=1)
    logs = np.log1p(means)
    move = float(logs[-1] - np.log1p(table.mean()))
    if persistence is not None:
        return persistence * move
    between = float(np.var(logs, ddof=1))
    # a quarter's mean from its three 4-week runs, so a busy month counts as one draw
    runs = table[:, : 3 * 4].reshape(quarters, 3, 4).mean(axis=2)
    noise = float(np.mean(runs.var(axis=1, ddof=1) / (3 * (1 + means) ** 2)))
    signal = max(0.0, between - noise)
    if signal == 0.0:
        return 0.0
    return signal / (signal + noise) * move


def level(history: Sequence[float] | NDArray[Any], options: ForecastOptions) -> tuple[float, float]:
    """The level factor's centre and spread on a log scale, (0, 0) when it is off."""
    window = sampled_window(history, options)
    if not options.level_uncertainty:
        return 0.0, 0.0
    shift = 0.0
    if options.recent_level:
        shift = level_shift(window, level_persistence(history, options.window_weeks))
    return shift, level_sigma(window)


def weekly_paths(
    window: NDArray[np.float32],
    weeks: int,
    trials: int,
    options: ForecastOptions,
    rng: np.random.Generator,
    centre_and_spread: tuple[float, float] = (0.0, 0.0),
) -> NDArray[np.float32]:
    """Simulated throughput, shape (trials, weeks): blocks of real weeks x a level factor
    (lognormal, ``centre_and_spread`` from :func:`level`; none when the spread is 0)."""
    block = min(options.block_weeks, window.size)
    blocks = -(-weeks // block)
    starts = rng.integers(0, window.size - block + 1, size=(trials, blocks), dtype=np.int32)
    # Each start picks a run of `block` real weeks: gathered as rows of a table of every
    # such run, a block at a time (half the time of indexing week by week).
    runs = np.ascontiguousarray(sliding_window_view(window, block))
    paths: NDArray[np.float32] = runs[starts].reshape(trials, blocks * block)[:, :weeks]
    scale = np.float32(options.capacity_factor)
    # Scaled in place: these arrays are the whole cost, a copy of one is time and memory.
    shift, sigma = centre_and_spread
    if sigma > 0:
        factor = np.exp(rng.normal(shift, sigma, size=(trials, 1))).astype(np.float32)
        paths *= factor * scale
        return paths
    paths *= scale
    return paths


def _chunks(trials: int) -> Iterator[int]:
    full, rest = divmod(trials, _CHUNK_TRIALS)
    yield from [_CHUNK_TRIALS] * full
    if rest:
        yield rest


def simulated_totals(
    history: Sequence[float] | NDArray[Any],
    horizon_weeks: int,
    options: ForecastOptions,
) -> NDArray[np.float64]:
    """One unrounded total of items done within ``horizon_weeks`` per trial.

    Unrounded because flooring first moves every percentile down by up to an item, which
    on sparse series made P85 over-cover (91-93 % at 4 weeks, issue #24)."""
    if horizon_weeks < 1:
        raise ValueError("horizon_weeks must be at least 1")
    options = sampled_options(history, options)[0]
    window, centre_and_spread = sampled_window(history, options), level(history, options)
    rng = np.random.default_rng(options.seed)
    return np.concatenate(
        [
            weekly_paths(window, horizon_weeks, n, options, rng, centre_and_spread)
            .sum(axis=1)
            .astype(np.float64)
            for n in _chunks(options.trials)
        ]
    )


def how_many_levels(totals: NDArray[Any]) -> NDArray[np.float64]:
    """:func:`how_many_totals` as an array, one row per percentile (a column per row of
    ``totals`` when it has several forecasts' samples, one forecast a row)."""
    levels: NDArray[np.float64] = np.percentile(
        totals, [100 - p for p in PERCENTILES], axis=-1, method="lower"
    )
    return levels


def how_many_totals(totals: NDArray[np.float64]) -> dict[int, float]:
    """The total reached with each percentile's probability (P85: the 15th percentile)."""
    return {p: float(v) for p, v in zip(PERCENTILES, how_many_levels(totals), strict=True)}


def whole_items(total: float) -> int:
    """A simulated total as the whole count it stands for (halves round up)."""
    return int(np.floor(total + 0.5))


def how_many(
    history: Sequence[float] | NDArray[Any],
    horizon_weeks: int,
    options: ForecastOptions | None = None,
) -> HowManyForecast:
    """The distribution of items done within ``horizon_weeks``."""
    options, model = sampled_options(history, options or ForecastOptions())
    totals = simulated_totals(history, horizon_weeks, options)
    return how_many_of(totals, horizon_weeks, options, model, sampled_window(history, options))


def how_many_of(
    totals: NDArray[np.float64],
    horizon_weeks: int,
    options: ForecastOptions,
    model: str,
    window: NDArray[Any],
) -> HowManyForecast:
    """The forecast that simulated ``totals`` stand for."""
    exact = how_many_totals(totals)
    # The curve is over whole counts: P(total ≥ c) = P(floor(total) ≥ c) for a whole c.
    counts, tallies = np.unique(np.floor(totals).astype(np.int64), return_counts=True)
    reached = np.cumsum(tallies[::-1])[::-1] / totals.size
    return HowManyForecast(
        horizon_weeks=horizon_weeks,
        percentiles={p: whole_items(v) for p, v in exact.items()},
        totals=exact,
        curve=[(int(c), round(float(r), 4)) for c, r in zip(counts, reached, strict=True)],
        options=asdict(options),
        model=model,
        window=[float(v) for v in window],
    )


def when(
    history: Sequence[float] | NDArray[Any],
    items: int,
    options: ForecastOptions | None = None,
    max_weeks: int = 104,
) -> WhenForecast:
    """The distribution of weeks until ``items`` (grown by split rate and scope growth) are done."""
    options, model = sampled_options(history, options or ForecastOptions())
    weeks = finish_weeks(history, items, options, max_weeks)
    return when_of(weeks, items, options, model, max_weeks)


def when_of(
    weeks: NDArray[np.float64], items: int, options: ForecastOptions, model: str, max_weeks: int
) -> WhenForecast:
    """The forecast that simulated finish ``weeks`` stand for."""
    by_week = np.searchsorted(np.sort(weeks), np.arange(1, max_weeks + 1), side="right")
    tally = np.diff(by_week, prepend=0)
    return WhenForecast(
        items=items,
        percentiles=when_weeks(weeks, max_weeks),
        curve=[
            (w + 1, round(float(done) / weeks.size, 4))
            for w, done in enumerate(by_week)
            if tally[w] or w == 0
        ],
        done_within_horizon=round(float(np.mean(weeks <= max_weeks)), 4),
        max_weeks=max_weeks,
        options=asdict(options),
        model=model,
    )


def finish_times(cumulative: NDArray[Any], target: NDArray[Any]) -> NDArray[np.float64]:
    """Per row of cumulative weekly counts, when it first reaches ``target`` (one value per
    week), in fractional weeks: the reaching week's start plus the share of that week's
    items still needed at its start. Columns + 1 when never reached. The backtest places
    the real finish the same way."""
    weeks = cumulative.shape[1]
    done = cumulative >= target
    first = np.argmax(done, axis=1)
    reached = np.take_along_axis(cumulative, first[:, None], axis=1)[:, 0].astype(np.float64)
    before = np.take_along_axis(cumulative, np.maximum(first - 1, 0)[:, None], axis=1)[:, 0]
    before = np.where(first > 0, before, 0.0).astype(np.float64)
    gained = np.where(reached > before, reached - before, 1.0)  # 1: never reached, no week
    share = np.clip((np.asarray(target, dtype=np.float64)[first] - before) / gained, 0.0, 1.0)
    finish: NDArray[np.float64] = first + share
    finish[~done.any(axis=1)] = weeks + 1
    return finish


def finish_weeks(
    history: Sequence[float] | NDArray[Any],
    items: int,
    options: ForecastOptions,
    max_weeks: int,
) -> NDArray[np.float64]:
    """Per trial, when the backlog is done (fractional weeks, see :func:`finish_times`);
    ``max_weeks + 1``: not within the horizon."""
    if items < 1 or max_weeks < 1:
        raise ValueError("items and max_weeks must be at least 1")
    options = sampled_options(history, options)[0]
    window, centre_and_spread = sampled_window(history, options), level(history, options)
    rng = np.random.default_rng(options.seed)
    # float32 like the paths, so the comparison does not widen every simulated value
    target = (
        items * options.split_rate + options.scope_growth_per_week * np.arange(1, max_weeks + 1)
    ).astype(np.float32)
    finish: list[NDArray[np.float64]] = []
    for n in _chunks(options.trials):
        paths = weekly_paths(window, max_weeks, n, options, rng, centre_and_spread)
        finish.append(finish_times(np.cumsum(paths, axis=1, out=paths), target))
    return np.concatenate(finish)


def when_weeks(weeks: NDArray[np.float64], max_weeks: int) -> dict[int, float | None]:
    """The time each percentile's share of trials is done by; None: beyond ``max_weeks``."""
    return {
        p: float(v) if v <= max_weeks else None
        for p, v in zip(PERCENTILES, when_levels(weeks), strict=True)
    }


def when_levels(weeks: NDArray[Any]) -> NDArray[np.float64]:
    """:func:`when_weeks` as an array, before "beyond the horizon" is told apart (rows and
    columns as :func:`how_many_levels`)."""
    levels: NDArray[np.float64] = np.percentile(weeks, PERCENTILES, axis=-1, method="higher")
    return levels


def sprint_completion_probability(
    history: Sequence[float] | NDArray[Any],
    *,
    weeks_left: float,
    not_started: int,
    in_progress_finish_probabilities: list[float],
    options: ForecastOptions | None = None,
) -> float:
    """Probability the sprint's remaining scope is done by its end.

    Items in progress go first: each finishes with its own probability (from its age, see
    :func:`sextant.forecast.domain.history.finish_probability`); what the simulated
    throughput has left over must cover the items not started yet.
    """
    options = sampled_options(history, options or ForecastOptions())[0]
    if weeks_left <= 0:
        return 1.0 if not_started == 0 and not in_progress_finish_probabilities else 0.0
    window = sampled_window(history, options)
    rng = np.random.default_rng(options.seed)
    whole = int(np.ceil(weeks_left))
    paths = weekly_paths(window, whole, options.trials, options, rng, level(history, options))
    paths[:, -1] *= np.float32(weeks_left - (whole - 1))  # the last, partial week
    capacity = np.floor(paths.sum(axis=1))
    finish_p = np.asarray(in_progress_finish_probabilities, dtype=np.float64)
    in_progress_done = rng.random((options.trials, finish_p.size)) < finish_p
    all_in_progress_done = in_progress_done.all(axis=1)
    left_over = capacity - in_progress_done.sum(axis=1)
    return float(np.mean(all_in_progress_done & (left_over >= not_started)))

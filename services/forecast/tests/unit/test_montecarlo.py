"""Monte Carlo forecasts: reproducible, percentiles the right way round, options that act."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from sextant.forecast.domain.montecarlo import (
    ForecastOptions,
    how_many,
    level,
    level_persistence,
    level_shift,
    level_sigma,
    sprint_completion_probability,
    when,
)

STEADY = [10, 12, 9, 11, 10, 13, 8, 10, 11, 9, 12, 10] * 5


def test_same_seed_same_forecast_and_another_seed_differs() -> None:
    a = how_many(STEADY, 8, ForecastOptions(seed=7))
    assert a == how_many(STEADY, 8, ForecastOptions(seed=7))
    assert a.curve != how_many(STEADY, 8, ForecastOptions(seed=8)).curve


def test_how_many_percentiles_are_counts_reached_with_that_probability() -> None:
    forecast = how_many(STEADY, 8)
    p = forecast.percentiles
    assert p[50] >= p[70] >= p[85] >= p[95]
    assert 60 <= p[85] <= p[50] <= 100  # around 8 weeks x ~10.4 items
    reached = dict(forecast.curve)
    # p[85] is the unrounded total rounded to the nearest item, so one item fewer is
    # reached at least 85 % of the time
    assert forecast.totals[85] - 0.5 < p[85] <= forecast.totals[85] + 0.5
    assert reached[p[85] - 1] >= 0.85 and reached[p[50] - 1] >= 0.50


def test_percentiles_are_taken_from_unrounded_totals() -> None:
    """A steady 5 a week at half capacity is 2.5 a week: 7.5 items in 3 weeks in every
    trial. Flooring the totals first made that 7 (reached by a 7-item actual that falls
    short of the forecast); the total is 7.5, shown as 8 whole items."""
    forecast = how_many([5.0] * 20, 3, ForecastOptions(trials=200, capacity_factor=0.5))
    assert forecast.totals == {50: 7.5, 70: 7.5, 85: 7.5, 95: 7.5}
    assert forecast.percentiles == {50: 8, 70: 8, 85: 8, 95: 8}
    assert forecast.curve == [(7, 1.0)]


def test_a_two_valued_history_gives_the_lower_total_at_p85_and_p95() -> None:
    """Single weeks of 1.25 or 4.25 items (block 1, no level factor), one week ahead: each
    half the trials. P85 and P95 are the 1.25 (one item shown), P50 is 1.25 or 4.25."""
    options = ForecastOptions(trials=4000, block_weeks=1, level_uncertainty=False)
    forecast = how_many([1.25, 4.25] * 10, 1, options)
    assert forecast.totals[85] == forecast.totals[95] == 1.25
    assert forecast.percentiles[85] == forecast.percentiles[95] == 1
    assert forecast.totals[50] in (1.25, 4.25)


def test_when_percentiles_are_later_for_more_certainty() -> None:
    forecast = when(STEADY, items=100)
    p50, p70, p85, p95 = (forecast.percentiles[p] for p in (50, 70, 85, 95))
    assert p50 is not None and p70 is not None and p85 is not None and p95 is not None
    assert p50 <= p70 <= p85 <= p95
    assert 8 <= p50 <= 12
    assert forecast.done_within_horizon == 1.0


def test_when_places_the_finish_inside_its_week() -> None:
    """A steady 5 a week has 10 done after two weeks; the third week's first 2 of 5 items
    finish a 12-item backlog: 2.4 weeks in every trial (whole weeks said 3)."""
    forecast = when([5.0] * 20, items=12, options=ForecastOptions(trials=100))
    assert forecast.percentiles == dict.fromkeys((50, 70, 85, 95), pytest.approx(2.4))
    assert forecast.curve == [(1, 0.0), (3, 1.0)]


def test_a_growing_backlog_is_done_when_the_team_catches_up_with_it() -> None:
    """Weeks of 6 against 9 items growing by 1 a week (10 by the end of week 1, 11 by the
    end of week 2): 6 done, then 12 — caught up in week 2, when 5 of its 6 were needed:
    1 + 5/6 weeks. Growing by 7 a week (16, 23, ...) the team of 6 never catches up."""
    options = ForecastOptions(trials=50, scope_growth_per_week=1)
    assert when([6.0] * 20, items=9, options=options).percentiles[50] == pytest.approx(11 / 6)
    faster_growth = ForecastOptions(trials=50, scope_growth_per_week=7)
    assert when([6.0] * 20, items=9, options=faster_growth).percentiles[50] is None


def test_halving_capacity_roughly_doubles_when() -> None:
    full = when(STEADY, items=100).percentiles[50]
    half = when(STEADY, items=100, options=ForecastOptions(capacity_factor=0.5)).percentiles[50]
    assert full is not None and half is not None
    assert 1.7 <= half / full <= 2.3


def test_split_rate_and_scope_growth_push_completion_later() -> None:
    base = when(STEADY, items=100).percentiles[85]
    split = when(STEADY, items=100, options=ForecastOptions(split_rate=1.5)).percentiles[85]
    growing = when(STEADY, items=100, options=ForecastOptions(scope_growth_per_week=3)).percentiles[
        85
    ]
    assert base is not None and split is not None and growing is not None
    assert split > base and growing > base


def test_work_beyond_the_horizon_is_reported_not_invented() -> None:
    forecast = when([1, 0, 1, 0] * 13, items=500, max_weeks=20)
    assert forecast.percentiles[50] is None
    assert forecast.done_within_horizon == 0.0


def test_vectorized_forecast_agrees_with_a_per_trial_loop() -> None:
    rng = np.random.default_rng(3)
    history = rng.poisson(10, 60).astype(float)
    # independent weeks: the blocks and level the loop checks are asked for, not tested away
    options = ForecastOptions(trials=20_000, seed=5, plain_when_independent=False)
    vectorized = how_many(history, 6, options).percentiles
    loop = _loop_how_many(history, 6, options)
    for p in (50, 85, 95):
        assert abs(vectorized[p] - loop[p]) <= max(1, 0.02 * loop[p])


def _loop_how_many(
    history: NDArray[np.float64], weeks: int, options: ForecastOptions
) -> dict[int, int]:
    window = np.asarray(history[-options.window_weeks :], dtype=np.float32)
    sigma, shift = level_sigma(window), level_shift(window)
    rng = np.random.default_rng(options.seed + 1)
    totals = []
    for _ in range(options.trials):
        total, filled = 0.0, 0
        while filled < weeks:
            start = rng.integers(0, window.size - options.block_weeks + 1)
            for week in window[start : start + options.block_weeks][: weeks - filled]:
                total += week
                filled += 1
        totals.append(total * np.exp(rng.normal(shift, sigma)))
    return {p: round(np.percentile(totals, 100 - p, method="lower")) for p in (50, 85, 95)}


def test_sprint_probability_falls_as_remaining_work_grows() -> None:
    probabilities = [
        sprint_completion_probability(
            STEADY, weeks_left=1.0, not_started=n, in_progress_finish_probabilities=[0.9, 0.8]
        )
        for n in (0, 5, 10, 20)
    ]
    assert probabilities == sorted(probabilities, reverse=True)
    assert probabilities[0] > 0.6 and probabilities[-1] < 0.05


def test_a_sprint_counts_its_last_partial_week_by_its_share() -> None:
    """Six a week, every week: 1.5 weeks left hold 6 + 6 x 0.5 = 9 items. A certain
    in-progress item takes one of them, so 8 more may start and finish, 9 may not."""

    def probability(not_started: int, in_progress: list[float]) -> float:
        return sprint_completion_probability(
            [6.0] * 60,
            weeks_left=1.5,
            not_started=not_started,
            in_progress_finish_probabilities=in_progress,
            options=ForecastOptions(trials=200),
        )

    assert probability(9, []) == 1.0
    assert probability(10, []) == 0.0
    assert probability(8, [1.0]) == 1.0
    assert probability(9, [1.0]) == 0.0
    assert probability(0, [0.0]) == 0.0  # an item that cannot finish fails the sprint


def test_sprint_already_over_is_done_only_when_nothing_is_left() -> None:
    assert (
        sprint_completion_probability(
            STEADY, weeks_left=0, not_started=0, in_progress_finish_probabilities=[]
        )
        == 1.0
    )
    assert (
        sprint_completion_probability(
            STEADY, weeks_left=0, not_started=1, in_progress_finish_probabilities=[]
        )
        == 0.0
    )


@pytest.mark.parametrize(
    "edge",
    [
        {"trials": 1, "window_weeks": 1, "block_weeks": 1},
        {"capacity_factor": 10.0},
        {"capacity_factor": 0.01},
        {"split_rate": 1.0, "scope_growth_per_week": 0.0},
    ],
)
def test_options_at_their_bounds_are_taken(edge: dict[str, float]) -> None:
    options = ForecastOptions(**edge)  # type: ignore[arg-type]
    assert all(getattr(options, name) == value for name, value in edge.items())


@pytest.mark.parametrize(
    "bad",
    [
        {"trials": 0},
        {"window_weeks": 0},
        {"block_weeks": 0},
        {"capacity_factor": 0.0},
        {"capacity_factor": 10.5},
        {"split_rate": 0.5},
        {"scope_growth_per_week": -1.0},
    ],
)
def test_options_past_their_bounds_are_refused(bad: dict[str, float]) -> None:
    """Each bound alone, the others at their defaults: every condition is checked."""
    with pytest.raises(ValueError):
        ForecastOptions(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[], [-1, 2], [float("nan")]])
def test_bad_history_is_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        how_many(bad, 4)


@settings(max_examples=30, deadline=None)
@given(history=st.lists(st.integers(0, 40), min_size=8, max_size=80), horizon=st.integers(1, 20))
def test_longer_horizons_never_forecast_fewer_items(history: list[int], horizon: int) -> None:
    options = ForecastOptions(trials=2000, seed=1)
    shorter = how_many(history, horizon, options).percentiles
    longer = how_many(history, horizon + 4, options).percentiles
    assert all(longer[p] >= shorter[p] for p in shorter)


def test_no_level_shift_without_two_quarters_or_when_quarters_agree() -> None:
    assert level_shift(np.full(25, 9.0, dtype=np.float32)) == 0.0
    # the same 13 weeks twice: the quarters' means agree, nothing to shift towards
    quarter = [4, 4, 4, 4, 2, 2, 2, 2, 6, 6, 6, 6, 4]
    assert level_shift(np.array(quarter * 2, dtype=np.float32)) == 0.0


def test_a_clean_jump_in_pace_moves_the_level_to_the_latest_quarter() -> None:
    """13 weeks of 4 then 13 of 9: no noise inside a quarter, so the latest quarter is
    trusted fully: log(1 + 9) - log(1 + 6.5), the window's mean being 6.5."""
    window = np.array([4.0] * 13 + [9.0] * 13, dtype=np.float32)
    assert level_shift(window) == pytest.approx(np.log(10 / 7.5))


def test_a_noisy_quarter_shrinks_the_shift_towards_the_window() -> None:
    """Quarter 1: runs of 4, 2, 6 (then a 4), mean 4; quarter 2: 9 every week.
    Noise of a quarter's log mean from its three 4-week runs: var(4, 2, 6) = 4, / 3 runs,
    / (1 + 4)^2 → 4 / 75 for quarter 1, 0 for quarter 2: 2 / 75 on average. The quarters'
    log means, log 5 and log 10, spread (log 2)^2 / 2. The signal, that less the noise,
    gets the weight signal / (signal + noise) of the full move log(10 / 7.5)."""
    quarter_1 = [4, 4, 4, 4, 2, 2, 2, 2, 6, 6, 6, 6, 4]
    window = np.array(quarter_1 + [9] * 13, dtype=np.float32)
    noise = 2 / 75
    signal = np.log(2) ** 2 / 2 - noise
    expected = signal / (signal + noise) * np.log(10 / 7.5)
    assert expected == pytest.approx(0.25575, abs=1e-5)
    assert level_shift(window) == pytest.approx(expected)


def test_the_level_factor_centres_on_the_recent_pace_only_when_asked() -> None:
    """Two quarters, 4 then 9 a week, 13 weeks ahead: centred on the latest quarter the
    median total is near 13 x 9 = 117 (a little under: the blocks still include 4s),
    centred on the window's level it is near 13 x 6.5 = 84.5."""
    history = [4.0] * 13 + [9.0] * 13
    recent = how_many(history, 13, ForecastOptions(trials=4000)).totals[50]
    window = how_many(history, 13, ForecastOptions(trials=4000, recent_level=False)).totals[50]
    assert 100 <= recent <= 125 and 75 <= window <= 95


def _one_busy_week(at: int, weeks: int = 67) -> NDArray[np.float64]:
    history = np.zeros(weeks)
    history[at] = 26.0  # a quarter's mean of 2 (log1p: log 3), a 26-week window's of 1 (log 2)
    return history


def test_persistence_is_the_slope_of_the_next_quarters_departure_on_the_latest_quarters() -> None:
    """26-week windows, origins every 4 weeks from 26 to 54 (the 8 needed), one busy week
    at 27. At 30, 34 and 38 it is in the latest quarter: log 3 - log 2 = log 1.5 above the
    window, the next quarter log 2 below. At 42, 46 and 50 it is in the window's older
    quarter: the latest and the next quarter are both log 2 below. At 26 (it is after)
    and 54 (past it) the latest quarter does not depart. Slope through 0:
    3 (log 2)(log 2 - log 1.5) / (3 (log 2)^2 + 3 (log 1.5)^2)."""
    log2, log15 = np.log(2), np.log(1.5)
    expected = log2 * (log2 - log15) / (log2**2 + log15**2)
    assert expected == pytest.approx(0.30923, abs=1e-5)
    assert level_persistence(_one_busy_week(27), 26) == pytest.approx(expected)


def test_persistence_needs_eight_origins_and_stays_in_zero_to_one() -> None:
    assert level_persistence(_one_busy_week(27)[:-1], 26) is None  # origins 26 to 50: 7
    assert level_persistence(np.full(67, 5.0), 26) == 0.0  # no quarter ever departs
    # at 40 the busy week is in the latest quarter at 42, 46, 50 (next quarter below the
    # window), in the older quarter only at 54: the slope is negative, clipped to 0
    assert level_persistence(_one_busy_week(40), 26) == 0.0
    # a lasting step (13 a week from week 40): the next quarter sits further above the
    # window than the latest, part of which precedes the step: a slope above 1, clipped
    step = np.where(np.arange(67) >= 40, 13.0, 0.0)
    assert level_persistence(step, 26) == 1.0


def test_the_level_centre_follows_the_series_persistence_not_the_windows_weight() -> None:
    """The busy week at 40 never lasted (persistence 0). Three weeks of 13 after week 66
    (no origin sees them) move the last window's latest quarter to 3 a week against 0:
    the window's own weight would shift towards it; the series' past says not to. The
    spread is the quarters': std of log 1 and log 4."""
    history = np.concatenate([_one_busy_week(40), [13.0, 13.0, 13.0]])
    shift, sigma = level(history, ForecastOptions(window_weeks=26))
    assert shift == 0.0
    assert sigma == pytest.approx(np.log(4) / 2)
    assert level(history, ForecastOptions(window_weeks=26, level_uncertainty=False)) == (0.0, 0.0)


def test_a_given_persistence_scales_the_move_to_the_latest_quarter() -> None:
    """4 then 9 a week: the full move is log(1 + 9) - log(1 + 6.5); half of it lasts."""
    window = np.array([4.0] * 13 + [9.0] * 13, dtype=np.float32)
    assert level_shift(window, 0.5) == pytest.approx(0.5 * np.log(10 / 7.5))
    assert level_shift(window, 0.0) == 0.0

"""The backtests' numbers worked by hand: CRPS, the origin-aware bands, the half-item
rule of "how many", the rolling origins of "when" (the calibration core's mutation tests:
they import no more than the core, so each mutant's run is short)."""

import numpy as np
import pytest

from sextant.forecast.domain.calibration import (
    Calibration,
    Kind,
    _binomial_quantile,
    backtest,
    backtest_when,
    coverage_band,
    crps,
    crps_difference_interval,
    score,
    scores,
)
from sextant.forecast.domain.montecarlo import ForecastOptions

ALL = (50, 70, 85, 95)


@pytest.mark.parametrize(
    ("samples", "actual", "expected"),
    [
        # E|X - 1| = 1, E|X - X'| = 1 (the two values differ half the time, by 2): 1 - 1/2
        ([0.0, 2.0], 1.0, 0.5),
        # a point forecast scores its absolute error
        ([3.0, 3.0, 3.0], 5.0, 2.0),
        # E|X| = 1.5; the 16 pairs' |i - j| sum to 20, so E|X - X'| / 2 = 0.625
        ([3.0, 1.0, 0.0, 2.0], 0.0, 0.875),
    ],
)
def test_crps_of_small_samples(samples: list[float], actual: float, expected: float) -> None:
    assert crps(np.array(samples), actual) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("percentile", "origins", "horizon", "step", "band"),
    [
        # Binomial(20, 0.85): P(X ≤ 13) < 2.5 % ≤ P(X ≤ 14), P(X ≤ 19) < 97.5 % ≤ P(X ≤ 20):
        # 14/20 to 20/20, wider than the fixed 0.80-0.90
        (85, 20, 4, 4, (0.70, 1.0)),
        # 60 origins 4 weeks apart over 12-week horizons overlap: they count as 20
        (85, 60, 12, 4, (0.70, 1.0)),
        # the same 60 with 4-week horizons are 60: Binomial(60, 0.85) gives 45/60 to 56/60
        (85, 60, 4, 4, (0.75, 56 / 60)),
        # origins further apart than the horizon count once each, not more
        (85, 20, 4, 8, (0.70, 1.0)),
        # 300 origins: 243/300 to 267/300 lies inside the fixed band, which is kept
        (85, 300, 4, 4, (0.80, 0.90)),
        # Binomial(20, 0.5): 6 to 14
        (50, 20, 4, 4, (0.30, 0.70)),
        # Binomial(10, 0.95): 8 to 10
        (95, 10, 4, 4, (0.80, 1.0)),
        # no fixed target at P70: the binomial alone, Binomial(20, 0.7) gives 10 to 18
        (70, 20, 4, 4, (0.50, 0.90)),
    ],
)
def test_coverage_bands_widen_with_fewer_independent_origins(
    percentile: int, origins: int, horizon: int, step: int, band: tuple[float, float]
) -> None:
    low, high = coverage_band(percentile, origins, horizon, step)
    assert (low, high) == pytest.approx(band)


def test_a_single_origin_still_has_a_band() -> None:
    # Binomial(1, 0.5): 0 or 1 hit
    assert coverage_band(50, 1, 12, 4) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("weekly", "capacity", "held", "error"),
    [(3.0, 1.1, 1.0, 0.3), (3.0, 1.2, 0.0, 0.6), (2.0, 1.25, 1.0, 0.5)],
)
def test_how_many_holds_when_the_count_reaches_the_total_less_half_an_item(
    weekly: float, capacity: float, held: float, error: float
) -> None:
    """A steady 3 a week forecast at 110 % is 3.3 a week: a week of 3 stands for 2.5-3.49,
    so it reaches 3.3. At 120 % (3.6, shown as 4) it falls short — flooring the totals
    (3.6 → 3) counted it as held. A steady 2 at 125 % is 2.5: exactly reached."""
    options = ForecastOptions(trials=100, capacity_factor=capacity)
    [result] = backtest(np.full(60, weekly), horizons=(1,), options=options)
    assert (result.origins, result.first_origin, result.last_origin) == (2, 52, 56)
    assert result.hit_share == dict.fromkeys(ALL, held)
    assert result.median_width == pytest.approx(0.0, abs=1e-5)
    assert result.mean_crps == pytest.approx(error, abs=1e-5)
    assert result.crps_by_origin == pytest.approx((error, error), abs=1e-5)


def test_the_defaults_are_4_and_12_week_horizons_every_4_weeks_after_a_52_week_window() -> None:
    how = backtest(np.full(70, 3.0))
    assert [(r.horizon_weeks, r.step_weeks, r.first_origin) for r in how] == [
        (4, 4, 52),
        (12, 4, 52),
    ]
    assert [r.last_origin for r in how] == [64, 56]  # the last with 4 / 12 weeks after it
    when = backtest_when(np.full(92, 3.0))
    assert [(r.kind, r.horizon_weeks, r.first_origin, r.last_origin) for r in when] == [
        ("when", 4, 52, 80),  # 12 weeks after the last
        ("when", 12, 52, 56),  # 36 weeks after the last
    ]


@pytest.mark.parametrize(
    ("percentile", "origins", "band"),
    [
        # 400 origins: Binomial(400, p)'s central 95 % lies inside the fixed targets
        (50, 400, (0.40, 0.60)),
        (95, 400, (0.90, 0.98)),
    ],
)
def test_many_origins_keep_the_fixed_targets(
    percentile: int, origins: int, band: tuple[float, float]
) -> None:
    assert coverage_band(percentile, origins, 4, 4) == pytest.approx(band)


def test_the_binomial_quantile_tops_out_at_every_trial() -> None:
    # no k reaches a level above 1: the quantile is the largest count there is
    assert _binomial_quantile(4, 0.5, 1.5) == 4
    # Binomial(4, 0.5): P(X ≤ 1) = 5/16, P(X ≤ 2) = 11/16
    assert _binomial_quantile(4, 0.5, 0.5) == 2
    # Binomial(1, 0.5): P(X ≤ 0) = 0.5 exactly reaches the level
    assert _binomial_quantile(1, 0.5, 0.5) == 0


def test_a_single_origin_counts_once_not_twice() -> None:
    # Binomial(1, 0.85): 0 or 1 hit (P(X ≤ 0) = 0.15); two origins would give 0.5 to 1
    assert coverage_band(85, 1, 12, 4) == (0.0, 1.0)


def test_the_width_is_the_central_90_percent() -> None:
    # 0..100: the 5th and the 95th percentiles are 5 and 95
    assert score("how_many", np.arange(101.0), 50.0, 4).width == 90.0


def test_forecasts_scored_together_are_scored_as_alone() -> None:
    """0..100 and 100..200 (shuffled) against 60 for a 4-week how-many: P50 (the 50th
    percentile, 50 or 150) held by the first only; P95 (the 5th: 5 or 105) likewise; the
    CRPS of 0..100 against 60 is E|X - 60| - E|X - X'|/2: (60 x 61 / 2 + 40 x 41 / 2) / 101
    = 2650 / 101 less half of (101² - 1) / (3 x 101) = 10200 / 303, so 9.406."""
    low, high = np.arange(101.0), np.random.default_rng(1).permutation(np.arange(100.0, 201.0))
    first, second = scores("how_many", [low, high], 60.0, 4)
    assert first.held == {50: True, 70: True, 85: True, 95: True}
    assert second.held == {50: False, 70: False, 85: False, 95: False}
    assert first.crps == pytest.approx(2650 / 101 - 10200 / 606)
    assert second.crps == pytest.approx(crps(high, 60.0))
    assert (first.width, second.width) == (90.0, 90.0)


def test_a_when_percentile_beyond_the_reach_holds() -> None:
    """Finish weeks 1..20 with reach 12: P85 (the 85th percentile, 17.15 → 18 higher) lies
    beyond 12, so it holds whatever happened; P50 (11) holds for a finish at 10.5."""
    held = score("when", np.arange(1.0, 21.0), 10.5, 12).held
    assert held[85] is True and held[95] is True
    assert held[50] is True
    assert score("when", np.arange(1.0, 21.0), 11.5, 12).held[50] is False
    # every trial done exactly at the reach: not beyond it, so unfinished (13) misses
    assert score("when", np.full(20, 12.0), 13.0, 12).held[50] is False


def test_an_early_origin_sizes_its_backlog_from_the_weeks_there_are() -> None:
    """First origin at week 2 of 1, 5, then 3s: the backlog is the 6 items of the two
    weeks there are (not the last week's 5 alone). The window's 1, 5 repeat: 6 done at
    exactly 2.0 weeks; the real 3, 3 also finish at 2.0: held, no error."""
    series = [1.0, 5.0] + [3.0] * 12
    options = ForecastOptions(trials=100, window_weeks=8)
    [result] = backtest_when(series, horizons=(4,), options=options, first_origin=2)
    assert (result.origins, result.first_origin) == (1, 2)
    assert result.hit_share == dict.fromkeys(ALL, 1.0) and result.mean_crps == 0.0


def test_a_team_that_did_nothing_is_rightly_never_done() -> None:
    """Nothing done for 20 weeks: the backlog is the 1-item minimum, the forecast never
    finishes it within 12 weeks, nor did the team: every percentile held."""
    options = ForecastOptions(trials=100, window_weeks=8)
    [result] = backtest_when(np.zeros(20), horizons=(4,), options=options)
    assert (result.origins, result.hit_share) == (1, dict.fromkeys(ALL, 1.0))
    assert result.mean_crps == 0.0


def test_when_is_backtested_at_rolling_origins_against_the_real_finish_time() -> None:
    """Twelve weeks of 5 then sixteen of 4, an 8-week window, 4-week horizons, origins every
    4 weeks with 12 real weeks after them: 8, 12 and 16.

    - 8: the backlog is the last 4 weeks' 20 items; the window's steady 5 finishes it at
      exactly 4.0 weeks, and so did the real weeks (5, 5, 5, 5): every percentile held.
    - 12: 20 items again, forecast 4.0; the real 4s finish it at 5.0: all missed.
    - 16: 16 items (four 4s). The window is 5, 5, 5, 5, 4, 4, 4, 4, so its five 4-week
      blocks finish at 3.2 (5555: 15, then a fifth of the next 5), 3.25 (5554), 3.5
      (5544), 3.75 (5444) and 4.0 (4444), a fifth of the trials each. The real 4s finish
      at 4.0: later than P50 (3.5) and P70 (3.75), held by P85 and P95 (4.0)."""
    series = [5.0] * 12 + [4.0] * 16
    options = ForecastOptions(trials=4000, window_weeks=8)
    [result] = backtest_when(series, horizons=(4,), options=options)
    assert (result.kind, result.origins, result.first_origin, result.last_origin) == (
        "when",
        3,
        8,
        16,
    )
    assert result.hit_share == {50: 1 / 3, 70: 1 / 3, 85: 2 / 3, 95: 2 / 3}
    assert result.median_width == 0.0  # two origins had no spread at all
    # CRPS: 0 at origin 8; 1 at origin 12 (a week late, no spread); at 16, E|X - 4| = 0.46
    # less half of E|X - X'| = 2 x 4.2 / 25 (the ten pairs' gaps sum to 4.2) = 0.168
    assert result.mean_crps == pytest.approx((0 + 1 + 0.46 - 0.168) / 3, abs=0.01)


def test_when_needs_its_reach_of_real_weeks_after_each_origin() -> None:
    with pytest.raises(ValueError, match="too short for a 12-week backtest"):
        backtest_when(np.full(52 + 35, 5.0), horizons=(12,))


def test_a_backlog_never_finished_in_the_real_weeks_misses_every_date() -> None:
    """A team that stopped: 10 weeks of 2, then nothing. At origin 8 the backlog (4 weeks'
    8 items) is forecast for week 4; the real weeks after it (2, 2, then zeros) never
    finish it within the 12 weeks looked at."""
    series = [2.0] * 10 + [0.0] * 10
    options = ForecastOptions(trials=100, window_weeks=8)
    [result] = backtest_when(series, horizons=(4,), options=options)
    assert result.origins == 1
    assert result.hit_share == dict.fromkeys(ALL, 0.0)
    assert result.mean_crps == pytest.approx(13 - 4)  # "not within 12" scores as week 13


def test_a_backlog_of_nothing_is_one_item() -> None:
    """Eight weeks of nothing, then one a week: the backlog at week 8 is the 1-item minimum.
    The idle window never finishes it (scored as week 13); the team did after 1.0 week:
    the forecast held (late is not wrong for a "by" date), its CRPS is the 12 weeks."""
    options = ForecastOptions(trials=100, window_weeks=8)
    [result] = backtest_when([0.0] * 8 + [1.0] * 12, horizons=(4,), options=options)
    assert (result.origins, result.hit_share) == (1, dict.fromkeys(ALL, 1.0))
    assert result.mean_crps == 12.0


def _scored(crps_by_origin: tuple[float, ...], horizon: int, kind: Kind) -> Calibration:
    return Calibration(
        horizon_weeks=horizon,
        origins=len(crps_by_origin),
        hit_share={},
        bands={},
        median_width=0.0,
        mean_crps=sum(crps_by_origin) / len(crps_by_origin),
        kind=kind,
        first_origin=52,
        last_origin=52 + 4 * (len(crps_by_origin) - 1),
        step_weeks=4,
        crps_by_origin=crps_by_origin,
    )


@pytest.mark.parametrize(
    ("horizon", "kind", "expected"),
    [
        # differences 2, 1, 0, 3: mean 1.5, centred .5, -.5, -1.5, 1.5; their products sum
        # to 5 at lag 0, -1.75 at lag 1, -1.5 at lag 2, .75 at lag 3 (each / 4 origins).
        # A 4-week reach at 4-week steps shares no weeks: variance 1.25, half-width
        # 1.96 √(1.25/4) = 1.09567; over plain's mean 2.5: 1 + (1.5 ± 1.09567) / 2.5
        (4, "how_many", (1.16173, 2.03827)),
        # a 12-week reach overlaps 2 neighbours: 1.25 + 2 (2/3)(-.4375) + 2 (1/3)(-.375)
        # = 5/12, half-width 1.96 √(5/48) = .63259
        (12, "how_many", (1.34697, 1.85303)),
        # "when" looks 3 horizons ahead: a 4-week "when" overlaps like a 12-week "how many"
        (4, "when", (1.34697, 1.85303)),
        # a 12-week "when" would overlap 8 neighbours, but 4 origins have 3 lags:
        # 1.25 + 2 (.75)(-.4375) + 2 (.5)(-.375) + 2 (.25)(.1875) = .3125, half-width .54784
        (12, "when", (1.38087, 1.81913)),
    ],
)
def test_the_crps_ratio_interval_allows_for_overlapping_origins(
    horizon: int, kind: Kind, expected: tuple[float, float]
) -> None:
    ours = _scored((3.0, 4.0, 3.0, 6.0), horizon, kind)
    plain = _scored((1.0, 3.0, 3.0, 3.0), horizon, kind)
    assert crps_difference_interval(ours, plain) == pytest.approx(expected, abs=1e-5)


def test_the_crps_ratio_needs_the_same_origins_and_a_nonzero_reference() -> None:
    with pytest.raises(ValueError, match="same origins"):
        crps_difference_interval(_scored((1.0, 2.0), 4, "how_many"), _scored((1.0,), 4, "how_many"))
    with pytest.raises(ValueError, match="no ratio"):
        crps_difference_interval(
            _scored((1.0, 2.0), 4, "how_many"), _scored((0.0, 0.0), 4, "how_many")
        )

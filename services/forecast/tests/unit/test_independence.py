"""The independence tests against worked examples (tables and hand arithmetic), and the
forecasts sampling single weeks exactly where the past allows it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sextant.forecast.domain.independence import (
    ALPHA,
    bonferroni,
    f_upper_tail,
    independence_p,
    runs_differ_p,
    trend_p,
    weeks_look_independent,
)
from sextant.forecast.domain.montecarlo import (
    ForecastOptions,
    finish_weeks,
    how_many,
    sampled_options,
    simulated_totals,
    when,
)

# Weeks alternating 8 and 12 for a year: every 4-week run is the same (8, 12, 8, 12);
# quarters of 13 start on alternate weeks, so their means are 128/13 and 132/13 in turn.
ALTERNATING = np.array([8.0, 12.0] * 26)
# Half a year around 10, then half a year around 20: a change of pace no test can miss.
STEP = np.array([9.0, 11.0] * 13 + [19.0, 21.0] * 13)


@pytest.mark.parametrize(
    ("f", "d1", "d2", "tail"),
    [
        # critical values from the F table: (3, 36) at 5 % and 1 %, (12, 40) at 5 % and 1 %
        (2.866, 3, 36, 0.05),
        (4.377, 3, 36, 0.01),
        (2.00, 12, 40, 0.05),
        (2.66, 12, 40, 0.01),
    ],
)
def test_f_tail_matches_the_table(f: float, d1: int, d2: int, tail: float) -> None:
    assert f_upper_tail(f, d1, d2) == pytest.approx(tail, abs=0.001)


def test_f_tail_of_nothing_between_groups_is_one() -> None:
    assert f_upper_tail(0.0, 3, 12) == 1.0


def test_runs_differ_by_one_way_anova() -> None:
    """Runs (1,3,1,3), (3,5,3,5) twice: means 2, 4, 2, 4, so between = 4 x var(means) =
    4 x 4/3 = 16/3; each run's variance 4/3; F = 4 on (3, 12), exact tail 0.0346."""
    runs = np.array([1, 3, 1, 3, 3, 5, 3, 5, 1, 3, 1, 3, 3, 5, 3, 5], dtype=float)
    assert runs_differ_p(runs, 4) == pytest.approx(0.0346, abs=0.001)
    # an older partial run is left out, whatever it holds
    assert runs_differ_p(np.concatenate(([100.0, 0.0], runs)), 4) == runs_differ_p(runs, 4)
    assert runs_differ_p(runs[1:], 4) is None  # three whole runs: too few to test
    assert runs_differ_p(ALTERNATING, 4) == 1.0  # identical runs


def test_quarters_differ_by_one_way_anova() -> None:
    """ALTERNATING in quarters: means 128/13 and 132/13 in turn, between = 13 x 16/507,
    within 8736/2028, F = 2/21 on (3, 48): exact tail 0.962."""
    assert runs_differ_p(ALTERNATING, 13) == pytest.approx(0.962, abs=0.006)


def test_runs_without_spread() -> None:
    """Every week alike: no reason to doubt; runs alike inside but not between: every reason."""
    assert runs_differ_p(np.full(16, 5.0), 4) == 1.0
    assert runs_differ_p(np.repeat([5.0, 7.0, 5.0, 7.0], 4), 4) == 0.0


def test_trend_by_least_squares() -> None:
    """(1, 2, 3, 5, 4) at weeks -2..2: slope 9/10, residuals (-.2, -.1, 0, 1.1, -.8), their
    variance 1.9/3, the slope's standard error sqrt(1.9/30) = 0.2517, t = 3.576,
    two-sided normal tail 0.00035."""
    assert trend_p(np.array([1.0, 2.0, 3.0, 5.0, 4.0])) == pytest.approx(0.00035, abs=0.00002)
    assert trend_p(np.array([1.0, 2.0, 3.0, 4.0])) == 0.0  # an exact line
    assert trend_p(np.full(6, 3.0)) == 1.0


def test_trend_of_alternating_weeks_is_nothing() -> None:
    """Slope 52/11713 (each pair of weeks adds 2 x 1), t = 0.236: p = 0.814."""
    assert trend_p(ALTERNATING) == pytest.approx(0.814, abs=0.001)


def test_bonferroni_multiplies_the_smallest() -> None:
    assert bonferroni([0.2, 0.01, 0.5]) == pytest.approx(0.03)
    assert bonferroni([0.5, 0.6]) == 1.0


def test_independence_needs_four_quarters() -> None:
    assert independence_p(ALTERNATING[:51]) is None
    assert not weeks_look_independent(ALTERNATING[:51])
    # 52 weeks: 4-week runs p 1, quarters 0.962, trend 0.814: 3 x 0.814 is more than 1
    assert independence_p(ALTERNATING) == 1.0
    assert weeks_look_independent(ALTERNATING)


def test_a_change_of_pace_is_not_independent() -> None:
    p = independence_p(STEP)
    assert p is not None and p < ALPHA / 100
    assert not weeks_look_independent(STEP)


def test_the_threshold_is_alpha() -> None:
    """Runs (1,3,1,3), (3,5,3,5) in turn for a year: 13 runs, means 2 (7 of them) and 4
    (6), their mean 38/13 and variance 14/13, so between = 56/13, within 4/3, F = 42/13 =
    3.23 on (12, 39): exact tail 0.0027, times 3 is 0.008, under ALPHA."""
    year = np.tile([1.0, 3.0, 1.0, 3.0, 3.0, 5.0, 3.0, 5.0], 7)[:52]
    p = independence_p(year)
    assert p == pytest.approx(0.0082, abs=0.0003)
    assert not weeks_look_independent(year)
    assert sampled_options(year, ForecastOptions())[1] == (
        "blocks and level: the past's weeks are not independent (p = 0.008)"
    )


def test_a_single_week_block_still_has_its_level_tested() -> None:
    """Blocks of one week but the level asked for: not plain yet, so the past is tested."""
    options = ForecastOptions(trials=200, block_weeks=1)
    assert sampled_options(STEP, options)[0] == options
    assert sampled_options(ALTERNATING, options)[0] == replace(options, level_uncertainty=False)


def test_independent_weeks_are_sampled_singly_without_a_level() -> None:
    options = ForecastOptions(trials=500, seed=3)
    sampled, model = sampled_options(ALTERNATING, options)
    assert sampled == replace(options, block_weeks=1, level_uncertainty=False)
    assert model.startswith("single weeks") and "p = 1.00" in model
    plain = replace(options, block_weeks=1, level_uncertainty=False)
    assert np.array_equal(
        simulated_totals(ALTERNATING, 4, options), simulated_totals(ALTERNATING, 4, plain)
    )
    assert np.array_equal(
        finish_weeks(ALTERNATING, 30, options, 26), finish_weeks(ALTERNATING, 30, plain, 26)
    )
    forecast = how_many(ALTERNATING, 4, options)
    assert forecast.options["block_weeks"] == 1 and not forecast.options["level_uncertainty"]
    assert when(ALTERNATING, 30, options).model == model


def test_a_changing_past_keeps_blocks_and_level() -> None:
    options = ForecastOptions(trials=500, seed=3)
    sampled, model = sampled_options(STEP, options)
    assert sampled == options
    assert model == "blocks and level: the past's weeks are not independent (p < 0.001)"
    assert how_many(STEP, 4, options).options["block_weeks"] == 4


def test_too_little_past_or_asked_otherwise_keeps_the_options() -> None:
    options = ForecastOptions(trials=500, seed=3)
    assert sampled_options(ALTERNATING[:51], options) == (
        options,
        "blocks and level: too little past to test its weeks (under 52)",
    )
    asked = replace(options, plain_when_independent=False)
    assert sampled_options(ALTERNATING, asked) == (asked, "as asked")
    plain = replace(options, block_weeks=1, level_uncertainty=False)
    assert sampled_options(STEP, plain) == (plain, "as asked")


def test_a_history_that_cannot_be_sampled_is_refused_before_it_is_tested() -> None:
    with pytest.raises(ValueError, match="finite and non-negative"):
        sampled_options(np.concatenate((ALTERNATING, [np.nan])), ForecastOptions())
    with pytest.raises(ValueError, match="non-empty list"):
        sampled_options(np.ones((52, 2)), ForecastOptions())

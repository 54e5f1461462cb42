"""The choice among blends of the method and plain resampling (domain/choice.py), on
worked examples: the blend, its widening and recentring by hand, the past's bias from
hand-made errors, the choice on hand-made score tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sextant.forecast.domain import choice
from sextant.forecast.domain.choice import (
    WIDENINGS,
    Past,
    backlog_weeks,
    backtest_row,
    blend,
    candidates,
    choose,
    described,
    recentred,
    recentring_factor,
    score_past,
    widened,
)
from sextant.forecast.domain.montecarlo import (
    ForecastOptions,
    how_many,
    plain_options,
    simulated_totals,
)


def test_the_blend_averages_quantile_by_quantile() -> None:
    # sorted [1, 2, 3] and [4, 5, 6]: pairwise means
    assert blend(np.array([3.0, 1.0, 2.0]), np.array([6.0, 4.0, 5.0])).tolist() == [2.5, 3.5, 4.5]


def test_widening_spreads_from_the_median_and_floors_at_zero() -> None:
    # median 3; 3 + 2 x (each - 3): -1 floored to 0, 1, 3, 5, 17
    assert widened(np.array([1.0, 2.0, 3.0, 4.0, 10.0]), 2.0).tolist() == [0, 1, 3, 5, 17]


def test_widening_leaves_what_lies_beyond_the_horizon() -> None:
    # 10 is past 9 ("not within the horizon"): it stays 10, not 17
    assert widened(np.array([1.0, 2.0, 3.0, 4.0, 10.0]), 2.0, beyond=9).tolist() == [0, 1, 3, 5, 10]
    # finishing at the horizon itself is within it: widened, 3 + 2 x 6
    assert widened(np.array([1.0, 2.0, 3.0, 4.0, 9.0]), 2.0, beyond=9).tolist() == [0, 1, 3, 5, 15]


def test_candidates_are_the_method_then_each_widened_blend_then_each_recentred() -> None:
    method, plain = np.array([2.0, 4.0, 6.0]), np.array([2.0, 2.0, 2.0])
    made = candidates(method, plain)
    assert len(made) == 1 + 2 * len(WIDENINGS) == 15
    assert made[0].tolist() == [2, 4, 6]
    assert made[1].tolist() == [2, 3, 4]  # the blend, widened 1.0x
    # widened 1.1x around its median 3: 3 - 1.1, 3, 3 + 1.1
    assert made[2].tolist() == pytest.approx([1.9, 3.0, 4.1])
    # the blend [2, 3, 4]'s top widened by 1, 1.1, 1.2, 1.3, 1.4, 1.5 and 1.7
    assert [c[2] for c in made[1:8]] == pytest.approx([4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 4.7])
    # no bias: the recentred group is the widened group again
    assert [c.tolist() for c in made[8:]] == [c.tolist() for c in made[1:8]]
    # recentred 2x: [4, 6, 8], then widened around its median 6 (1.5x: 3, 6, 9)
    moved = candidates(method, plain, factor=2.0)
    assert moved[8].tolist() == [4, 6, 8]
    assert moved[13].tolist() == pytest.approx([3.0, 6.0, 9.0])
    assert [c.tolist() for c in moved[:8]] == [c.tolist() for c in made[:8]]


def test_recentring_scales_all_but_what_lies_beyond_the_horizon() -> None:
    assert recentred(np.array([1.0, 2.0, 10.0]), 1.5).tolist() == [1.5, 3.0, 15.0]
    # 10 is past 9 ("not within the horizon"): it stays; 9 itself is within it
    assert recentred(np.array([1.0, 9.0, 10.0]), 1.5, beyond=9).tolist() == [1.5, 13.5, 10.0]


# Errors of +0.3 and -0.1 on the log(1 + x) scale in turn around medians of 9 (log 10):
# actuals 10 e^0.3 - 1 = 12.49859 and 10 e^-0.1 - 1 = 8.04837. Their mean error is 0.1,
# each 0.2 from it.
HIGH, LOW = 10 * np.exp(0.3) - 1, 10 * np.exp(-0.1) - 1


def _errors(origins: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(origins, 9.0), np.array([HIGH, LOW] * (origins // 2))


def test_a_past_off_one_way_by_two_standard_errors_is_a_bias() -> None:
    # 20 origins 4 weeks apart, 4-week horizon: 20 independent ones. Standard deviation
    # sqrt(20 x 0.04 / 19) = 0.20520, standard error 0.20520 / sqrt(20) = 0.04588:
    # 0.1 is 2.18 of them. The factor: total actuals over total medians,
    # (12.49859 + 8.04837) / 2 / 9 = 1.14150
    medians, actuals = _errors(20)
    assert recentring_factor(medians, actuals, 4, 4) == pytest.approx(1.14150, abs=1e-5)
    # 16 origins: standard deviation 0.20656, standard error 0.05164, 0.1 is 1.94 of them
    assert recentring_factor(*_errors(16), 4, 4) == 1.0
    # a 12-week horizon: 20 origins 4 weeks apart count as 6, standard error 0.0838
    assert recentring_factor(medians, actuals, 12, 4) == 1.0
    # the other way: the actuals were the medians, the medians the actuals
    assert recentring_factor(actuals, medians, 4, 4) == pytest.approx(1 / 1.14150, abs=1e-5)


def test_the_spread_is_the_samples_not_the_populations() -> None:
    # errors +0.36 and -0.04 in turn at 8 origins: mean 0.16, each 0.2 from it. Standard
    # deviation sqrt(8 x 0.04 / 7) = 0.21381, standard error 0.07559: 0.16 is 2.12 of them
    # (with 6 degrees of freedom instead of 7 it would be 1.96). Actuals 10 e^0.36 - 1 =
    # 13.33329 and 10 e^-0.04 - 1 = 8.60789: (13.33329 + 8.60789) / 2 / 9 = 1.218955
    medians = np.full(8, 9.0)
    actuals = np.array([10 * np.exp(0.36) - 1, 10 * np.exp(-0.04) - 1] * 4)
    assert recentring_factor(medians, actuals, 4, 4) == pytest.approx(1.218955, abs=1e-6)
    # +0.345 and -0.055: mean 0.145, 1.92 standard errors of the sample's 0.07559 (with
    # the population's 0.2 / sqrt(8) = 0.07071 it would be 2.05)
    nearly = np.array([10 * np.exp(0.345) - 1, 10 * np.exp(-0.055) - 1] * 4)
    assert recentring_factor(medians, nearly, 4, 4) == 1.0


def test_errors_all_alike_are_a_bias_and_none_is_none() -> None:
    assert recentring_factor(np.full(8, 10.0), np.full(8, 12.0), 4, 4) == pytest.approx(1.2)
    assert recentring_factor(np.full(8, 10.0), np.full(8, 10.0), 4, 4) == 1.0


def test_a_bias_needs_eight_origins_and_something_forecast() -> None:
    assert recentring_factor(np.full(7, 10.0), np.full(7, 12.0), 4, 4) == 1.0
    assert recentring_factor(np.zeros(8), np.full(8, 3.0), 4, 4) == 1.0
    # a small forecast is still a forecast: 8 medians of 0.1 (0.8 in all), outcomes of 0.5
    assert recentring_factor(np.full(8, 0.1), np.full(8, 0.5), 4, 4) == pytest.approx(5.0)
    # nothing delivered at all: no factor of 0 (the forecast would say nothing, ever)
    assert recentring_factor(np.full(8, 10.0), np.zeros(8), 4, 4) == 1.0
    # but a little is something: 8 outcomes of 0.1 (0.8 in all) against medians of 0.5
    assert recentring_factor(np.full(8, 0.5), np.full(8, 0.1), 4, 4) == pytest.approx(0.2)


def test_a_factor_against_the_errors_lean_is_no_recentring() -> None:
    # seven small forecasts each 1 short (log(3) - log(2) = 0.405 each) and one large 20
    # over (log(81) - log(101) = -0.221): the errors lean short (mean 0.327, spread 0.221,
    # 4.18 standard errors), but the totals say over, 94 / 107 = 0.879
    medians, actuals = np.array([1.0] * 7 + [100.0]), np.array([2.0] * 7 + [80.0])
    assert recentring_factor(medians, actuals, 4, 4) == 1.0
    # the large one 20 short instead: 134 / 107 = 1.252, the same way as the errors
    assert recentring_factor(medians, np.array([2.0] * 7 + [120.0]), 4, 4) == pytest.approx(
        134 / 107
    )


def _past(
    columns: dict[int, tuple[list[bool], float]], origins: int = 20, independent: int = 0
) -> Past:
    """A 4-week how-many table, origins at weeks 52, 56, …: each listed candidate held P50
    as its pattern says (repeated) and P70/P85/P95 always, at the given CRPS; the others
    never held P50 (a 0 % share: outside any band) at CRPS 0.5, the best. Every median
    was 10 and every outcome 12."""
    candidates = 1 + 2 * len(WIDENINGS)
    crps = np.full((origins, candidates), 0.5)
    held = np.ones((origins, candidates, 4), dtype=bool)  # P50, P70, P85, P95
    held[:, :, 0] = False
    for c, (pattern, score) in columns.items():
        crps[:, c] = score
        held[:, c, 0] = [pattern[i % len(pattern)] for i in range(origins)]
    return Past(
        kind="how_many",
        horizon=4,
        step_weeks=4,
        origins=np.arange(52, 52 + 4 * origins, 4, dtype=np.int64),
        independent=np.arange(origins) < independent,
        crps=crps,
        held=held,
        width=np.ones((origins, candidates)),
        medians=np.full(origins, 10.0),
        actuals=np.full(origins, 12.0),
    )


HALF = [True, False]  # P50 held at every other origin: a 50 % share


def test_the_calibrated_blend_with_the_lowest_crps_is_chosen() -> None:
    past = _past({1: (HALF, 2.0), 2: (HALF, 1.5), 3: (HALF, 1.8)})
    # 12 origins known by week 100 (52 … 96: each ends 4 weeks later, at most at 100)
    assert choose(past, 100) == 2


def test_a_recentred_blend_is_chosen_as_any_other() -> None:
    past = _past({1: (HALF, 2.0), 12: (HALF, 1.5)})
    assert choose(past, 100) == 12
    # the recentring by week 100: its 12 known origins all fell 12 over 10 short
    assert past.recentring(100) == pytest.approx(1.2)
    assert past.recentring(83) == 1.0  # 7 known: too few


def test_no_lean_by_then_leaves_the_recentred_blends_out() -> None:
    # the same scores, but every outcome was its median: nothing to recentre by, and a
    # recentred blend would be the widened one again
    leaning = _past({1: (HALF, 2.0), 12: (HALF, 1.5)})
    level = replace(leaning, actuals=np.full(20, 10.0))
    assert choose(level, 100) == 1


def test_the_method_is_not_a_candidate_however_well_it_scored() -> None:
    past = _past({0: (HALF, 0.1), 1: (HALF, 2.0)})
    assert choose(past, 100) == 1


def test_no_calibrated_blend_leaves_the_method() -> None:
    past = _past({})  # every blend's P50 share is 0 %
    assert choose(past, 100) == 0


def test_eight_known_origins_are_enough_seven_are_not() -> None:
    past = _past({4: (HALF, 1.0)})
    # origins 52 … 80 end by week 84: eight of them; by 83 only seven (52 … 76)
    assert choose(past, 84) == 4
    assert choose(past, 83) == 0


def test_a_share_on_the_bands_edge_qualifies() -> None:
    # 8 origins known by week 84: P(Binomial(8, 1/2) <= 0) = 1/256 < 2.5 % and
    # P(<= 1) = 9/256 >= 2.5 %, so P50's band starts at 1/8; P(<= 6) = 247/256 < 97.5 % and
    # P(<= 7) = 255/256, so it ends at 7/8
    once = [True] + [False] * 7
    all_but_once = [False] + [True] * 7
    assert choose(_past({3: (once, 1.0)}), 84) == 3
    assert choose(_past({3: (all_but_once, 1.0)}), 84) == 3
    assert choose(_past({3: ([True], 1.0)}), 84) == 0  # 8 of 8: above the band


def test_only_origins_known_by_then_count() -> None:
    # candidate 1 held P50 at its first 8 origins only, candidate 2 at none of them and at
    # every one after: by week 84 (8 known) 1 is calibrated... only if its share is in band
    early = [True, False] * 4 + [False] * 12
    late = [False] * 8 + [True] * 12
    past = _past({1: (early, 2.0), 2: (late, 1.0)})
    assert choose(past, 84) == 1  # candidate 2: 0 of 8 held
    # by week 132 (20 known) candidate 1 holds 4 of 20 (20 %), candidate 2 12 of 20 (60 %)
    assert choose(past, 132) == 2


def test_the_backtest_scores_what_was_chosen_at_each_origin() -> None:
    # candidate 2 is calibrated throughout at CRPS 1.5; the method scored 3.0
    past = _past({0: (HALF, 3.0), 2: (HALF, 1.5)})
    row = backtest_row(past, 52)
    # origins 52 … 80 (8) know fewer than 8 outcomes: the method's 3.0; 84 … 128 (12): 1.5
    assert row.origins == 20
    assert row.mean_crps == pytest.approx((8 * 3.0 + 12 * 1.5) / 20)
    assert backtest_row(past, 52, method_only=True).mean_crps == pytest.approx(3.0)
    assert backtest_row(past, 100).origins == 8  # 100 … 128


def test_the_backtest_keeps_plain_where_the_past_was_independent() -> None:
    past = _past({0: (HALF, 3.0), 2: (HALF, 1.5)}, independent=20)
    assert backtest_row(past, 52).mean_crps == pytest.approx(3.0)


def test_a_backtest_with_no_origin_to_show_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        backtest_row(_past({}), 200)


@pytest.mark.parametrize(
    ("items", "split", "pace_weeks", "weeks"),
    [
        (30, 1.0, 10.0, 3),  # 30 items at 10 a week
        (30, 1.5, 10.0, 5),  # 45 items: 4.5 weeks, a started week counts
        (1, 1.0, 10.0, 1),  # never under a week
        (5000, 1.0, 10.0, 34),  # at most a third of the 104-week horizon
        (30, 1.0, 0.0, 34),  # no pace: as far as the horizon allows
        (1, 1.0, 0.5, 2),  # half an item a week: two weeks for one
    ],
)
def test_a_backlog_is_as_many_weeks_as_it_takes_at_the_window_pace(
    items: int, split: float, pace_weeks: float, weeks: int
) -> None:
    options = ForecastOptions(split_rate=split)
    assert backlog_weeks([pace_weeks] * 60, items, options, 104) == weeks


def test_a_backlog_counts_only_the_capacity_available() -> None:
    # half the team's 10 a week: 30 items take 6 weeks
    assert backlog_weeks([10.0] * 60, 30, ForecastOptions(capacity_factor=0.5), 104) == 6


def test_a_backlog_is_a_week_at_least_however_short_the_horizon() -> None:
    assert backlog_weeks([10.0] * 60, 30, ForecastOptions(), 2) == 1


def test_the_past_is_scored_every_4_weeks_from_a_full_window() -> None:
    # 80 weeks, 4-week how-many: origins 52 … 76 (the last whose 4 weeks are all known)
    past = score_past(_changing(80), "how_many", 4, ForecastOptions(trials=200))
    assert past.origins.tolist() == [52, 56, 60, 64, 68, 72, 76]
    assert not past.independent.any()
    assert past.crps.shape == past.width.shape == (7, 15) and past.held.shape == (7, 15, 4)
    # never 8 known origins, so never a bias: the recentred group repeats the widened one
    assert (past.crps[:, 8:] == past.crps[:, 1:8]).all()
    assert past.medians.shape == past.actuals.shape == (7,)
    # what happened at week 52's 4 weeks
    assert past.actuals[0] == _changing(80)[52:56].sum()
    # a 4-week "when" looks 12 weeks ahead: origins 52 … 68
    when_past = score_past(_changing(80), "when", 4, ForecastOptions(trials=200))
    assert when_past.origins.tolist() == [52, 56, 60, 64, 68]


def test_a_past_is_scored_once_per_history_and_question() -> None:
    history, options = _changing(80), ForecastOptions(trials=200)
    first = score_past(history, "how_many", 4, options)
    assert score_past(list(history), "how_many", 4, options) is first  # the same history
    assert score_past(history, "how_many", 12, options) is not first
    changed = history.copy()
    changed[-1] += 1
    assert score_past(changed, "how_many", 4, options) is not first
    with pytest.raises(ValueError, match="read-only"):
        first.crps[0, 0] = 0.0  # shared: nobody may change it


def test_independent_pasts_are_marked() -> None:
    history = np.random.default_rng(5).poisson(12, 120).astype(float)
    past = score_past(history, "how_many", 4, ForecastOptions(trials=200))
    assert past.independent.all()


def test_what_was_chosen_is_said() -> None:
    assert described(0, 5, 1.0) == (
        "too little past to choose a blend (5 of 8 past origins scored)"
    )
    assert described(0, 8, 1.0) == "no blend held its bands at 8 past origins"
    assert described(7, 30, 1.2) == (
        "blocks and level averaged with single weeks, widened 1.7x: the calibrated blend "
        "with the lowest CRPS at 30 past origins"
    )
    assert described(8, 30, 1.2) == (
        "blocks and level averaged with single weeks, recentred 1.2x (the past's outcomes "
        "over its forecasts' medians), widened 1x: the calibrated blend with the lowest "
        "CRPS at 30 past origins"
    )
    assert described(2, 30, 1.0) == (
        "blocks and level averaged with single weeks, widened 1.1x: the calibrated blend "
        "with the lowest CRPS at 30 past origins"
    )
    assert described(10, 30, 1.0834) == (
        "blocks and level averaged with single weeks, recentred 1.08x (the past's outcomes "
        "over its forecasts' medians), widened 1.2x: the calibrated blend with the lowest "
        "CRPS at 30 past origins"
    )


def _changing(weeks: int, seed: int = 3) -> np.ndarray:
    """A pace that steps from 8 to 20 and back every 30 weeks: never independent."""
    rng = np.random.default_rng(seed)
    return rng.poisson(np.where((np.arange(weeks) // 30) % 2 == 0, 8, 20)).astype(float)


def test_with_too_little_past_the_forecast_is_the_methods() -> None:
    history = _changing(80)  # 52-week window: origins 52 … 76, all 7 known by week 80
    options = ForecastOptions(trials=2000)
    chosen = choice.how_many(history, 4, options)
    assert chosen.model.startswith("blocks and level: the past's weeks are not independent")
    assert chosen.model.endswith("; too little past to choose a blend (7 of 8 past origins scored)")
    assert chosen.totals == how_many(history, 4, options).totals
    # "when": 40 items at 8-20 a week is a 3-week backlog (the window's mean, 13.7 a week),
    # which looks 9 weeks ahead: origins 52 … 68, 5 known by week 80
    later = choice.when(history, 40, options)
    assert later.model.endswith("; too little past to choose a blend (5 of 8 past origins scored)")
    assert later.max_weeks == 104


def test_independent_weeks_stay_plain_resampling() -> None:
    history = np.random.default_rng(5).poisson(12, 300).astype(float)
    chosen = choice.how_many(history, 4, ForecastOptions(trials=2000))
    assert chosen.model.startswith("single weeks")
    assert chosen.options["block_weeks"] == 1
    later = choice.when(history, 40, ForecastOptions(trials=2000))
    assert later.model.startswith("single weeks")
    assert later.options["level_uncertainty"] is False


def test_the_backtest_shows_origins_from_where_it_is_asked() -> None:
    options = ForecastOptions(trials=200)
    whole = choice.backtest(_changing(120), (4,), kind="how_many", options=options)
    assert (whole[0].first_origin, whole[0].last_origin, whole[0].origins) == (52, 116, 17)
    late = choice.backtest(_changing(120), (4,), kind="how_many", options=options, first_origin=100)
    assert (late[0].first_origin, late[0].origins) == (100, 5)


def test_a_long_changing_past_chooses_a_blend_between_the_two() -> None:
    history = _changing(400)
    options = ForecastOptions(trials=4000)
    chosen = choice.how_many(history, 12, options)
    assert "widened" in chosen.model and "past origins" in chosen.model
    # widening around the blend's median leaves it the mean of the two medians
    method = np.median(simulated_totals(history, 12, options))
    plain = np.median(simulated_totals(history, 12, plain_options(options)))
    assert min(method, plain) - 1 <= chosen.totals[50] <= max(method, plain) + 1
    assert chosen.totals[50] == pytest.approx((method + plain) / 2, abs=1.0)


def test_a_when_forecast_keeps_beyond_the_horizon_beyond_it() -> None:
    history = _changing(400)
    # far more than 20 weeks' work at 8-20 a week: most trials never finish within 20
    chosen = choice.when(history, 1000, ForecastOptions(trials=2000), max_weeks=20)
    assert chosen.percentiles[50] is None
    assert chosen.done_within_horizon < 0.5


def _growing(weeks: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A pace growing 0.4 % a week from 8 (doubling in about 3.3 years): the weeks drawn
    and the rates they were drawn at."""
    rate = 8 * np.exp(0.004 * np.arange(weeks))
    return np.random.default_rng(seed).poisson(rate).astype(float), rate


def test_each_past_origin_is_recentred_by_the_outcomes_known_by_then() -> None:
    # 1 % a week: a 52-week window's forecasts fall e^(0.01 x 32) = 1.38 short, clearly
    rate = 8 * np.exp(0.01 * np.arange(140))
    history = np.random.default_rng(7).poisson(rate).astype(float)
    past = score_past(history, "how_many", 12, ForecastOptions(trials=200))
    # 12-week outcomes: by origin 92 (row 10) those of origins 52 … 80 are known, eight;
    # by origin 88 (row 9) seven, too few to recentre by
    same = (past.crps[:, 8:] == past.crps[:, 1:8]).all(axis=1)
    assert past.origins[10] == 92
    assert same[:10].all() and not same[10:].any()
    assert past.recentring(92) > 1.2 and past.recentring(91) == 1.0


def test_a_past_that_kept_falling_short_recentres_the_forecast() -> None:
    weeks, rate = _growing(312)
    history, options = weeks[:300], ForecastOptions(trials=4000)
    chosen = choice.how_many(history, 12, options)
    assert "recentred" in chosen.model, chosen.model
    # the next 12 weeks' expected total: 8 x (e^(0.004 x 300) + … + e^(0.004 x 311)) =
    # 325.85. A 52-week window's mean pace is 26 weeks old and the 12 weeks' middle is 6
    # ahead: forecasts from it fall short by e^(0.004 x 32) = 1.137, plain resampling's too.
    assert rate[300:].sum() == pytest.approx(325.85, abs=0.01)
    assert chosen.totals[50] == pytest.approx(325.9, rel=0.05)
    plain = np.median(simulated_totals(history, 12, plain_options(options)))
    assert plain < 325.9 / 1.05

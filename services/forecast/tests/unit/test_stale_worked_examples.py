"""The stale rule on worked examples: every expected number below was computed by hand
(log1p, median, MAD x 1.4826) from the durations in the test, not by the code."""

from __future__ import annotations

import math

from sextant.forecast.domain.stale import assess

# log1p of these is k * ln 2 for k = 0..7: median 3.5 ln 2, MAD 2 ln 2, sigma 2.9652 ln 2
DOUBLING = [0, 1, 3, 7, 15, 31, 63, 127]


def test_the_score_is_the_distance_from_the_median_log_in_robust_sigmas() -> None:
    verdict = assess("In Review", 255, DOUBLING)  # log1p = 8 ln 2: (8 - 3.5) / 2.9652
    assert verdict.score == 1.518  # rounded to 3 places
    assert verdict.percentile == 100.0
    assert not verdict.stale  # past every item, but not far enough out


def test_past_the_default_threshold_of_three_is_stale() -> None:
    verdict = assess("In Review", 16383, DOUBLING)  # (14 - 3.5) / 2.9652 = 3.541
    assert verdict.score == 3.541
    assert verdict.stale
    assert "above the stale threshold 3.0" in verdict.explanation
    assert not assess("In Review", 16383, DOUBLING, threshold=3.6).stale


def test_the_percentile_counts_strictly_shorter_past_items_and_90_is_enough() -> None:
    ten = list(range(1, 11))  # 10 is longer than 9 of them: the 90th percentile exactly
    verdict = assess("Doing", 10, ten, threshold=0.5)
    assert verdict.percentile == 90.0
    assert verdict.score == 0.936  # MAD 0.565: below 1, still used
    assert verdict.stale
    assert assess("Doing", 7, range(1, 10)).percentile == 66.7  # 6 of 9, to one place
    shorter = assess("Doing", 9, ten, threshold=0.5)  # score 0.767, but only 80 % shorter
    assert shorter.percentile == 80.0
    assert not shorter.stale


def test_without_spread_in_the_middle_the_standard_deviation_stands_in() -> None:
    # nine identical durations: the MAD is 0, so the population sigma of the logs (1.8647) is used
    verdict = assess("Doing", 10, [1] * 9 + [1000])
    assert verdict.score == 0.914
    assert verdict.percentile == 90.0


def test_identical_history_makes_any_longer_age_an_outlier() -> None:
    verdict = assess("Doing", 3, [2] * 8)  # no spread at all: the floor of 1e-9 days
    assert verdict.stale
    assert verdict.score > 1e8


def test_eight_usable_durations_are_enough_and_negative_ones_do_not_count() -> None:
    usable = [0, 1, 2, 3, 4, 5, 6, 7, -1]  # a zero duration is real; a negative one is not
    assert "not enough history" not in assess("Doing", 8, usable).explanation
    verdict = assess("Doing", 8, usable[1:])
    assert verdict.stale is False
    assert verdict.score == 0.0
    assert math.isnan(verdict.percentile)
    assert verdict.explanation == "not enough history for 'Doing' (7 past items, need 8)"

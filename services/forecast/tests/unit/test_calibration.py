"""The backtest's bookkeeping, and the method's calibration on drifting data."""

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sextant.forecast.backtest import read_weekly
from sextant.forecast.domain.calibration import CALIBRATION_TARGETS as BANDS
from sextant.forecast.domain.calibration import backtest
from sextant.forecast.domain.montecarlo import ForecastOptions

CORPORA = Path(__file__).resolve().parents[4].parent / "shared" / "corpora" / "throughput"


def drifting_series(seed: int, weeks: int = 700) -> NDArray[np.float64]:
    """Weekly counts whose rate wanders (a log random walk) with month-long bursts — the
    shape that makes plain week resampling overconfident. The drift (2 % a week) gives
    quarterly-mean spreads a little below the public corpora's (0.08-0.12 vs 0.13-0.22)."""
    rng = np.random.default_rng(seed)
    log_rate = np.log(12) + np.cumsum(rng.normal(0, 0.02, weeks))
    bursts = np.repeat(rng.normal(0, 0.2, weeks // 4 + 1), 4)[:weeks]
    counts: NDArray[np.float64] = rng.poisson(np.exp(log_rate + bursts)).astype(np.float64)
    return counts


def within(share: float, p: int) -> bool:
    low, high = BANDS[p]
    return low <= share <= high


def test_backtest_counts_origins_every_four_weeks() -> None:
    series = np.full(120, 10.0)
    [result] = backtest(series, horizons=(4,), options=ForecastOptions(trials=500, window_weeks=52))
    assert result.origins == len(range(52, 120 - 4 + 1, 4))


def test_constant_throughput_is_always_reached_at_p50() -> None:
    [result] = backtest(np.full(100, 7.0), horizons=(4,), options=ForecastOptions(trials=500))
    assert result.hit_share[50] == 1.0


def test_too_short_a_series_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        backtest(np.ones(30), horizons=(12,))


@pytest.mark.parametrize("seed", [1, 2])
def test_method_is_calibrated_on_drifting_synthetic_throughput(seed: int) -> None:
    # A random-walk rate is the method's hardest case: scored against unrounded totals
    # (issue #24) its P85 lands at 79-84 % here (flooring had flattered it to 81-85 %) and
    # its P95 just under 90 % at 12 weeks, so this stand-alone check allows 78 % and 88 %;
    # P50 is held to the band the origins allow, the corpora test below to the issue's.
    for result in backtest(drifting_series(seed)):
        low, high = result.bands[50]
        assert low <= result.hit_share[50] <= high, result
        assert 0.78 <= result.hit_share[85] <= BANDS[85][1], result
        assert 0.88 <= result.hit_share[95] <= BANDS[95][1], result


def test_plain_week_resampling_is_overconfident_where_the_method_is_not() -> None:
    """The reason for the method: without blocks and level uncertainty P85 falls short
    (65-75 % here, against 79-84 %), and the width that buys costs no skill: the CRPS is
    no worse than plain resampling's (within 1 %)."""
    plain = ForecastOptions(trials=4000, block_weeks=1, level_uncertainty=False)
    for seed in (1, 2):
        series = drifting_series(seed)
        for ours, theirs in zip(backtest(series), backtest(series, options=plain), strict=True):
            assert theirs.hit_share[85] < 0.76
            assert ours.hit_share[85] - theirs.hit_share[85] >= 0.04
            assert ours.mean_crps <= theirs.mean_crps * 1.01


@pytest.mark.skipif(not CORPORA.exists(), reason="shared corpora not present")
@pytest.mark.parametrize("repo", ["git", "numpy", "sympy"])
def test_method_is_calibrated_on_the_public_corpora(repo: str) -> None:
    for result in backtest(read_weekly(CORPORA / f"{repo}.weekly.csv")):
        for p in (50, 85, 95):
            assert within(result.hit_share[p], p), (repo, result.horizon_weeks, p, result.hit_share)

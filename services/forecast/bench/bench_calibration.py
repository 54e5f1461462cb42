"""Calibration and skill of the forecasts, next to plain resampling, in one run.

    .venv/bin/python services/forecast/bench/bench_calibration.py [--corpora DIR] [--held-out]

For every weekly throughput file in ``../shared/corpora/throughput`` (``*.weekly.csv``;
the ``.detail`` files break the same weeks down and have no ``count``), and for a few
shapes generated here (sparse, growing, declining, regime change, drifting, steady), a
rolling-origin backtest (origins every 4 weeks after a 52-week window; horizons 4 and 12)
of "how many" and "when", with this service's method and with plain resampling of single
weeks (no blocks, no level factor). Per row: the share of origins each of P50/P85/P95
held (``*``: outside the band the number of origins allows), the median width of the
central 90 % interval and the mean CRPS (lower is better); ``indep``: the share of origins
whose past gave no reason to doubt independent weeks, where the method samples as plain
resampling does (``montecarlo.sampled_options``). The corpora's first and last
weeks are partial (their README) and are left out. ``--corpora`` or ``SEXTANT_CORPORA``
points elsewhere than ``../shared/corpora``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sextant.forecast.backtest import read_weekly
from sextant.forecast.domain.calibration import (
    Calibration,
    Kind,
    backtest,
    backtest_when,
    crps_difference_interval,
)
from sextant.forecast.domain.choice import backtest_row, score_past
from sextant.forecast.domain.montecarlo import ForecastOptions, sampled_options

ROOT = Path(__file__).resolve().parents[3]
CORPORA = Path(os.environ.get("SEXTANT_CORPORA", ROOT.parent / "shared" / "corpora"))
OURS = ForecastOptions(trials=4000)
PLAIN = ForecastOptions(trials=4000, block_weeks=1, level_uncertainty=False)
SHOWN = (50, 85, 95)
KINDS: dict[str, Kind] = {"how-many": "how_many", "when": "when"}
WEEKS = 520


def sparse(rng: np.random.Generator) -> NDArray[np.float64]:
    """About 45 % zero weeks: a small team finishing ~1 item a week, in bursts."""
    rate = np.repeat(rng.gamma(2.0, 0.45, WEEKS // 4 + 1), 4)[:WEEKS]
    return rng.poisson(rate).astype(np.float64)


def growing(rng: np.random.Generator) -> NDArray[np.float64]:
    """A team doubling its pace every ~2.5 years (from 6 to ~24 a week over ten years)."""
    return rng.poisson(6 * np.exp(np.log(4) * np.arange(WEEKS) / WEEKS)).astype(np.float64)


def declining(rng: np.random.Generator) -> NDArray[np.float64]:
    """The reverse: from 24 a week down to ~6."""
    return rng.poisson(24 * np.exp(-np.log(4) * np.arange(WEEKS) / WEEKS)).astype(np.float64)


def regime_change(rng: np.random.Generator) -> NDArray[np.float64]:
    """Steady pace that jumps every ~2 years (8, 20, 11, 25, 14 a week)."""
    levels = np.repeat([8, 20, 11, 25, 14], WEEKS // 5)
    return rng.poisson(levels).astype(np.float64)


def drifting(rng: np.random.Generator) -> NDArray[np.float64]:
    """A rate that wanders (log random walk, 2 % a week) with month-long bursts."""
    log_rate = np.log(12) + np.cumsum(rng.normal(0, 0.02, WEEKS))
    bursts = np.repeat(rng.normal(0, 0.2, WEEKS // 4 + 1), 4)[:WEEKS]
    return rng.poisson(np.exp(log_rate + bursts)).astype(np.float64)


def steady(rng: np.random.Generator) -> NDArray[np.float64]:
    """No change of pace at all: independent uneven weeks (mean 12, coefficient of variation
    0.8, negative binomial). Plain resampling is the right model here; a method earns its
    extra machinery only if it costs little on such a team."""
    return rng.negative_binomial(1.8, 1.8 / 13.8, WEEKS).astype(np.float64)


SHAPES: dict[str, Callable[[np.random.Generator], NDArray[np.float64]]] = {
    "synthetic sparse": sparse,
    "synthetic growing": growing,
    "synthetic declining": declining,
    "synthetic regime change": regime_change,
    "synthetic drifting": drifting,
    "synthetic steady": steady,
}


# Shapes no change to the method was measured on while it was made (--held-out): a check
# that a change did not just fit the shapes above.
HELD_OUT: dict[str, Callable[[np.random.Generator], NDArray[np.float64]]] = {
    "held-out poisson": lambda rng: rng.poisson(12, WEEKS).astype(np.float64),
    "held-out heavy-tailed": lambda rng: np.round(rng.lognormal(2, 1.0, WEEKS)),
    "held-out yearly season": lambda rng: rng.poisson(
        12 * np.exp(0.35 * np.sin(2 * np.pi * np.arange(WEEKS) / 52))
    ).astype(np.float64),
    "held-out one step down": lambda rng: rng.poisson(
        np.where(np.arange(WEEKS) < WEEKS // 2, 18, 9)
    ).astype(np.float64),
    "held-out bursty sparse": lambda rng: (
        rng.poisson(0.6, WEEKS) * rng.geometric(0.3, WEEKS)
    ).astype(np.float64),
}


def series_to_bench(corpora: Path, held_out: bool = False) -> list[tuple[str, NDArray[np.float64]]]:
    """The corpora's weekly series and the shapes (seed 24); held out: the shapes at seed 7
    and the held-out shapes instead."""
    if held_out:
        again = {name.replace("synthetic", "seed 7"): make for name, make in SHAPES.items()}
        return [(name, make(np.random.default_rng(7))) for name, make in (again | HELD_OUT).items()]
    found = sorted((corpora / "throughput").glob("*.weekly.csv"))
    series = [(path.name, np.asarray(read_weekly(path))[1:-1]) for path in found]
    if not found:
        print(f"no throughput corpora at {corpora / 'throughput'}: synthetic shapes only")
    return series + [(name, make(np.random.default_rng(24))) for name, make in SHAPES.items()]


def independent_share(series: NDArray[np.float64], row: Calibration) -> float:
    """The share of the row's origins at which the method sampled single weeks."""
    origins = range(row.first_origin, row.last_origin + 1, row.step_weeks)
    return float(np.mean([sampled_options(series[:o], OURS)[0] != OURS for o in origins]))


def cells(row: Calibration) -> str:
    shown = []
    for p in SHOWN:
        low, high = row.bands[p]
        share = row.hit_share[p]
        shown.append(f"{share:6.1%}{' ' if low <= share <= high else '*'}")
    return " ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument(
        "--held-out", action="store_true", help="other shapes and another seed, no corpora"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    outside = {"ours": 0, "plain": 0, "method": 0}
    method_at_most_plain = 0
    total_cells = 0
    crps_ratios: list[float] = []
    worse = better = 0  # rows whose CRPS ratio's 95 % interval lies wholly above / below 1
    width_ratios: list[float] = []
    print("calibration, rolling origin every 4 weeks, 52-week window; '*' outside its band")
    print(
        f"{'series':24s} {'kind':8s} {'h':>3s} {'orig':>4s} {'indep':>5s} | {'ours P50/P85/P95':23s} "
        f"{'width':>7s} {'CRPS':>7s} | {'plain P50/P85/P95':23s} {'width':>7s} {'CRPS':>7s} | "
        f"{'ratio [95 % interval]':21s}"
    )
    for name, series in series_to_bench(args.corpora, args.held_out):
        for kind, run in (("how-many", backtest), ("when", backtest_when)):
            for plain in run(series, options=PLAIN):
                past = score_past(series, KINDS[kind], plain.horizon_weeks, OURS)
                ours = backtest_row(past, OURS.window_weeks)
                method = backtest_row(past, OURS.window_weeks, method_only=True)
                method_at_most_plain += method.mean_crps <= plain.mean_crps
                for label, row in (("ours", ours), ("plain", plain), ("method", method)):
                    outside[label] += sum(
                        not row.bands[p][0] <= row.hit_share[p] <= row.bands[p][1] for p in SHOWN
                    )
                total_cells += len(SHOWN)
                crps_ratios.append(ours.mean_crps / plain.mean_crps)
                low, high = crps_difference_interval(ours, plain)
                worse, better = worse + (low > 1), better + (high < 1)
                width_ratios.append(ours.median_width / max(plain.median_width, 1e-9))
                print(
                    f"{name:24s} {kind:8s} {ours.horizon_weeks:>3d} {ours.origins:>4d} "
                    f"{independent_share(series, ours):5.0%} | "
                    f"{cells(ours)} {ours.median_width:7.1f} {ours.mean_crps:7.2f} | "
                    f"{cells(plain)} {plain.median_width:7.1f} {plain.mean_crps:7.2f} | "
                    f"{crps_ratios[-1]:.3f} [{low:.3f}, {high:.3f}]"
                )
    print(
        f"cells outside their band: ours {outside['ours']}/{total_cells}, "
        f"plain {outside['plain']}/{total_cells}"
    )
    print(
        f"the method alone (blocks and level, no blend): {outside['method']} cells outside, "
        f"CRPS at most plain's on {method_at_most_plain}/{len(crps_ratios)} rows"
    )
    print(
        f"ours / plain: CRPS median {np.median(crps_ratios):.3f} "
        f"(worst {max(crps_ratios):.3f}, best {min(crps_ratios):.3f}); "
        f"interval width median {np.median(width_ratios):.2f}x"
    )
    print(
        f"rows with CRPS <= plain's: {sum(r <= 1 for r in crps_ratios)}/{len(crps_ratios)}; "
        f"by the paired 95 % interval, better on {better}, worse on {worse}, "
        f"within noise on {len(crps_ratios) - better - worse}"
    )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

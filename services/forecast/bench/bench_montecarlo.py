"""Monte Carlo speed and memory, each next to a per-trial Python loop of the same method.

    .venv/bin/python services/forecast/bench/bench_montecarlo.py

Targets (issue #6): how-many, 100,000 trials x 26 weeks ≤ 50 ms; when, 500 items over a
104-week horizon ≤ 150 ms; peak extra memory ≤ 64 MB. Medians of several runs. The loop
runs fewer trials and is scaled to the same count (its cost is linear in trials).
Calibration and skill are in ``bench_calibration.py``.

Then a forecast as the service answers one (``choice.py``: both simulations, the past's
choice among blends, 10,000 trials) with the backtest shown beside it (the latest two
years of origins, 2,000 trials, each choosing from every origin before it), on a
changing 520-week history (what the service reads at most), next to the method alone and
its backtest: the cost of choosing from the past, per request.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from sextant.forecast.domain import calibration, choice
from sextant.forecast.domain.calibration import Kind
from sextant.forecast.domain.montecarlo import (
    ForecastOptions,
    how_many,
    level,
    when,
)

TRIALS = 100_000
LOOP_TRIALS = 2_000


def history() -> np.ndarray:
    return np.random.default_rng(11).poisson(14, 104).astype(float)


def median_ms(function: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def peak_mb(function: Callable[[], object]) -> float:
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def loop_paths(
    window: np.ndarray,
    weeks: int,
    rng: np.random.Generator,
    sigma: float,
    shift: float,
    block: int = 4,
) -> list[float]:
    path: list[float] = []
    while len(path) < weeks:
        start = int(rng.integers(0, window.size - block + 1))
        path.extend(window[start : start + block][: weeks - len(path)])
    factor = float(np.exp(rng.normal(shift, sigma)))
    return [w * factor for w in path]


def loop_how_many(hist: np.ndarray, weeks: int, trials: int) -> dict[int, int]:
    window = hist[-52:].astype(np.float32)
    (shift, sigma), rng = level(hist, ForecastOptions()), np.random.default_rng(1)
    totals = [sum(loop_paths(window, weeks, rng, sigma, shift)) for _ in range(trials)]
    return {p: round(np.percentile(totals, 100 - p, method="lower")) for p in (50, 85, 95)}


def loop_when(hist: np.ndarray, items: int, trials: int, horizon: int = 104) -> dict[int, float]:
    window = hist[-52:].astype(np.float32)
    (shift, sigma), rng = level(hist, ForecastOptions()), np.random.default_rng(1)
    finishes = []
    for _ in range(trials):
        done, week = 0.0, float(horizon + 1)
        for index, value in enumerate(loop_paths(window, horizon, rng, sigma, shift)):
            if done + value >= items:  # within this week, by the share still needed
                week = index + (items - done) / value
                break
            done += value
        finishes.append(week)
    return {p: float(np.percentile(finishes, p, method="higher")) for p in (50, 85, 95)}


def main() -> None:
    hist = history()
    # The method's blocks and level, the slower path (this history's independent weeks
    # would be sampled singly): what the targets and the loop are about.
    options = ForecastOptions(trials=TRIALS, seed=3, plain_when_independent=False)
    how_ms = median_ms(lambda: how_many(hist, 26, options))
    when_ms = median_ms(lambda: when(hist, 500, options, max_weeks=104))
    how_loop_ms = (
        median_ms(lambda: loop_how_many(hist, 26, LOOP_TRIALS), runs=3) * TRIALS / LOOP_TRIALS
    )
    when_loop_ms = (
        median_ms(lambda: loop_when(hist, 500, LOOP_TRIALS), runs=3) * TRIALS / LOOP_TRIALS
    )
    how_mem = peak_mb(lambda: how_many(hist, 26, options))
    when_mem = peak_mb(lambda: when(hist, 500, options, max_weeks=104))
    vec_how, ref_how = how_many(hist, 26, options).percentiles, loop_how_many(hist, 26, 20_000)
    vec_when, ref_when = when(hist, 500, options).percentiles, loop_when(hist, 500, 20_000)

    print(
        f"Monte Carlo, {TRIALS:,} trials (median of runs; loop scaled from {LOOP_TRIALS:,} trials)"
    )
    print(
        f"  how-many 26 weeks   {how_ms:8.1f} ms  (target ≤ 50)   loop {how_loop_ms:9.0f} ms  "
        f"→ {how_loop_ms / how_ms:5.0f}x   peak {how_mem:5.1f} MB"
    )
    print(
        f"  when 500 items/104w {when_ms:8.1f} ms  (target ≤ 150)  loop {when_loop_ms:9.0f} ms  "
        f"→ {when_loop_ms / when_ms:5.0f}x   peak {when_mem:5.1f} MB  (target ≤ 64)"
    )
    print(
        f"  agreement how-many P50/P85/P95  vectorized {[vec_how[p] for p in (50, 85, 95)]}  "
        f"loop {[ref_how[p] for p in (50, 85, 95)]}"
    )
    print(
        f"  agreement when     P50/P85/P95  vectorized "
        f"{[round(vec_when[p] or 0, 2) for p in (50, 85, 95)]}  "
        f"loop {[round(ref_when[p], 2) for p in (50, 85, 95)]}"
    )
    print_request_costs()
    print("calibration: see bench_calibration.py")


def changing_history(weeks: int = 520) -> np.ndarray:
    """A pace that wanders (log random walk) with month-long bursts: never independent."""
    rng = np.random.default_rng(11)
    log_rate = np.log(12) + np.cumsum(rng.normal(0, 0.02, weeks))
    bursts = np.repeat(rng.normal(0, 0.2, weeks // 4 + 1), 4)[:weeks]
    weekly: np.ndarray = rng.poisson(np.exp(log_rate + bursts)).astype(float)
    return weekly


def print_request_costs() -> None:
    hist = changing_history()
    options, shown = ForecastOptions(), ForecastOptions(trials=choice.PAST_TRIALS)
    print("A request on 520 weeks of a changing history (median of runs): chosen vs method alone")
    kinds: tuple[tuple[Kind, int], ...] = (("how_many", 12), ("when", 3 * 12))
    for kind, reach in kinds:
        first = len(hist) - reach - 104  # the service's: the latest two years of origins

        def answer(chosen: bool, kind: Kind = kind) -> object:
            if kind == "how_many":
                return (choice.how_many if chosen else how_many)(hist, 12, options)
            return (choice.when if chosen else when)(hist, 150, options)

        def backtest(chosen: bool, kind: Kind = kind, first: int = first) -> object:
            if chosen:
                return choice.backtest(hist, (4, 12), kind=kind, options=shown, first_origin=first)
            return calibration.backtest(hist, (4, 12), options=shown, first_origin=first, kind=kind)

        label = "how-many 12 weeks" if kind == "how_many" else "when 150 items"
        answer_cold = first_request_ms(lambda: answer(True))
        shown_cold = first_request_ms(lambda: backtest(True))
        both_cold = first_request_ms(lambda: (answer(True), backtest(True)))
        both_warm = median_ms(lambda: (answer(True), backtest(True)), 3)  # cached by the above
        print(
            f"  {label:18s} answer {answer_cold:4.0f} ms, backtest shown {shown_cold:4.0f} ms,"
            f" both {both_cold:4.0f} ms (again, cached: {both_warm:3.0f} ms)   method alone:"
            f" {median_ms(lambda: answer(False), 5):3.0f} + "
            f"{median_ms(lambda: backtest(False), 3):3.0f} ms"
        )


def first_request_ms(function: Callable[[], object]) -> float:
    """:func:`median_ms` of ``function`` with no past scored yet (its cache emptied)."""

    def first_request() -> None:
        choice.forget_pasts()
        function()

    return median_ms(first_request, 3)


if __name__ == "__main__":
    main()

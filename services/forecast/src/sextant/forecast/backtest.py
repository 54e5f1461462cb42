"""Print the calibration of "how many" forecasts on weekly-throughput CSV files.

    python -m sextant.forecast.backtest FILE.csv [FILE.csv …]

Each CSV has a header and one row per week; the last column is the count.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from sextant.forecast.domain.calibration import CALIBRATION_TARGETS as BANDS
from sextant.forecast.domain.calibration import backtest


def read_weekly(path: Path) -> list[float]:
    """The weekly counts of a CSV, oldest first; ValueError names the bad line."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    counts = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            counts.append(float(row[-1]))
        except ValueError:
            raise ValueError(
                f"{path.name}, line {line}: {row[-1]!r} is not a weekly count"
            ) from None
    return counts


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    print(
        f"{'file':24s} {'horizon':>7s} {'origins':>7s}  {'P50':>6s} {'P85':>6s} {'P95':>6s}  in target bands"
    )
    all_in = True
    for name in paths:
        try:
            results = backtest(read_weekly(Path(name)))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for result in results:
            shares = result.hit_share
            inside = all(lo <= shares[p] <= hi for p, (lo, hi) in BANDS.items())
            all_in &= inside
            print(
                f"{Path(name).name:24s} {result.horizon_weeks:>5d} w {result.origins:>7d}  "
                f"{shares[50]:>6.1%} {shares[85]:>6.1%} {shares[95]:>6.1%}  {'yes' if inside else 'NO'}"
            )
    print("targets: P50 40-60 %, P85 80-90 %, P95 90-98 %")
    return 0 if all_in else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

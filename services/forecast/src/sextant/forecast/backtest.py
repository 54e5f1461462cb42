"""Print the calibration of "how many" and "when" forecasts on weekly-throughput CSV files.

    python -m sextant.forecast.backtest FILE.csv [FILE.csv …]

Each CSV has a header naming ``week_start`` and ``count`` and one row per week (see
:func:`read_weekly`).
"""

from __future__ import annotations

import csv
import math
import sys
from datetime import date
from pathlib import Path

from sextant.forecast.domain import choice
from sextant.forecast.domain.calibration import DEFAULT_TRIALS
from sextant.forecast.domain.montecarlo import ForecastOptions

WEEK_COLUMN = "week_start"
COUNT_COLUMN = "count"


def read_weekly(path: Path) -> list[float]:
    """The weekly counts of a throughput CSV, oldest first, a missing week as a zero week.

    The file must start with its header naming ``week_start`` and ``count`` (a file
    without one would lose its first week, or score a header as a count). Weeks are ISO
    dates 7 days apart or a whole number of weeks apart (the gap's weeks had no
    completions), in increasing order; a count must be a finite number ≥ 0, the last
    week's too. ValueError names the file and the line."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or WEEK_COLUMN not in rows[0] or COUNT_COLUMN not in rows[0]:
        raise ValueError(
            f"{path.name}, line 1: the header must name {WEEK_COLUMN!r} and {COUNT_COLUMN!r}"
        )
    week_at, count_at = rows[0].index(WEEK_COLUMN), rows[0].index(COUNT_COLUMN)
    counts: list[float] = []
    previous: date | None = None
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(rows[0]):
            raise ValueError(
                f"{path.name}, line {line}: {len(row)} fields, the header has {len(rows[0])}"
            )
        try:
            week = date.fromisoformat(row[week_at])
        except ValueError:
            raise ValueError(
                f"{path.name}, line {line}: {row[week_at]!r} is not a date (YYYY-MM-DD)"
            ) from None
        try:
            count = float(row[count_at])
        except ValueError:
            count = math.nan
        if not math.isfinite(count) or count < 0:
            raise ValueError(
                f"{path.name}, line {line}: {row[count_at]!r} is not a weekly count "
                "(a finite number ≥ 0)"
            )
        if previous is not None:
            gap = (week - previous).days
            if gap <= 0 or gap % 7:
                raise ValueError(
                    f"{path.name}, line {line}: week {week} does not follow {previous} by "
                    "a whole number of weeks"
                )
            counts.extend([0.0] * (gap // 7 - 1))
        counts.append(count)
        previous = week
    if not counts:
        raise ValueError(f"{path.name}: no weeks after the header")
    return counts


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    print(
        f"{'file':24s} {'kind':8s} {'horizon':>7s} {'origins':>7s}  "
        f"{'P50':>6s} {'P85':>6s} {'P95':>6s}  in the bands its origins allow"
    )
    all_in = True
    for name in paths:
        try:
            weekly = read_weekly(Path(name))
            options = ForecastOptions(trials=DEFAULT_TRIALS)
            results = [
                row
                for kind in ("how_many", "when")
                for row in choice.backtest(weekly, (4, 12), kind=kind, options=options)
            ]
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for result in results:
            shares = result.hit_share
            inside = all(
                result.bands[p][0] <= shares[p] <= result.bands[p][1] for p in (50, 85, 95)
            )
            all_in &= inside
            print(
                f"{Path(name).name:24s} {result.kind:8s} {result.horizon_weeks:>5d} w "
                f"{result.origins:>7d}  {shares[50]:>6.1%} {shares[85]:>6.1%} {shares[95]:>6.1%}  "
                f"{'yes' if inside else 'NO'}"
            )
    print(
        "bands: P50 40-60 %, P85 80-90 %, P95 90-98 %, widened to the central 95 % of the "
        "binomial for the origins that do not overlap"
    )
    return 0 if all_in else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

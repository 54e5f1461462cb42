"""`sextant backtest FILE.csv` prints the calibration table and says if it is in band."""

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

SEXTANT = [sys.executable, "-m", "sextant.cli"]


def weekly_csv(counts: list[int]) -> str:
    """A throughput CSV: its header, then one Monday a week from 2020-01-06."""
    first = date(2020, 1, 6)
    rows = (f"{first + timedelta(weeks=i)},{c}" for i, c in enumerate(counts))
    return "week_start,count\n" + "\n".join(rows) + "\n"


def test_backtest_prints_calibration_for_a_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    weeks = rng.poisson(np.exp(np.log(10) + np.cumsum(rng.normal(0, 0.02, 400))))
    csv = tmp_path / "team.weekly.csv"
    csv.write_text(weekly_csv([int(c) for c in weeks]))
    result = subprocess.run(
        [*SEXTANT, "backtest", str(csv)], capture_output=True, text=True, timeout=120
    )
    assert "team.weekly.csv" in result.stdout and "P85" in result.stdout
    assert "how_many" in result.stdout and "when" in result.stdout
    assert result.returncode in (0, 1)  # 1 means "outside the target bands", still a report


def test_backtest_names_a_missing_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SEXTANT, "backtest", str(tmp_path / "nope.csv")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_backtest_names_the_bad_line_of_a_malformed_csv(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("week_start,count\n2020-01-06,3\n2020-01-13,three\n")
    result = subprocess.run(
        [*SEXTANT, "backtest", str(csv)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "bad.csv, line 3: 'three' is not a weekly count" in result.stderr
    assert "Traceback" not in result.stderr


def test_backtest_refuses_a_csv_without_its_header(tmp_path: Path) -> None:
    csv = tmp_path / "headless.csv"
    csv.write_text("2020-01-06,3\n2020-01-13,4\n")
    result = subprocess.run(
        [*SEXTANT, "backtest", str(csv)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "headless.csv, line 1: the header must name 'week_start' and 'count'" in result.stderr


def test_backtest_says_when_a_series_is_too_short(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    csv.write_text(weekly_csv(list(range(20))))
    result = subprocess.run(
        [*SEXTANT, "backtest", str(csv)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "too short" in result.stderr

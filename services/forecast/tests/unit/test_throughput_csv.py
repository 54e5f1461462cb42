"""The throughput CSV reader the backtest and the bench read corpora with: strict, so a
bad file is refused with its line rather than scored."""

from pathlib import Path

import pytest

from sextant.forecast.backtest import read_weekly


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.weekly.csv"
    path.write_text(text)
    return path


def test_weeks_in_order_are_read_oldest_first(tmp_path: Path) -> None:
    text = "week_start,count\n2026-01-05,3\n2026-01-12,0\n2026-01-19,7.5\n"
    assert read_weekly(write(tmp_path, text)) == [3.0, 0.0, 7.5]


def test_a_gap_of_weeks_is_filled_with_zero_weeks(tmp_path: Path) -> None:
    # 2026-01-05 then 2026-01-26: the 12th and the 19th had no completions
    text = "week_start,count\n2026-01-05,3\n2026-01-26,4\n2026-02-02,1\n"
    assert read_weekly(write(tmp_path, text)) == [3.0, 0.0, 0.0, 4.0, 1.0]


def test_the_count_column_is_found_by_name(tmp_path: Path) -> None:
    text = "count,week_start,merges\n5,2026-01-05,1\n6,2026-01-12,2\n"
    assert read_weekly(write(tmp_path, text)) == [5.0, 6.0]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    assert read_weekly(write(tmp_path, "week_start,count\n2026-01-05,2\n\n2026-01-12,1\n")) == [
        2.0,
        1.0,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # no header: the first week used to be dropped silently
        ("2026-01-05,3\n2026-01-12,4\n", "line 1: the header must name 'week_start' and 'count'"),
        ("week,count\n2026-01-05,3\n", "line 1: the header"),
        ("", "line 1: the header"),
        ("week_start,count\n", "no weeks after the header"),
        # a negative or non-finite count anywhere, the last week's included
        ("week_start,count\n2026-01-05,3\n2026-01-12,-1\n", "line 3: '-1' is not a weekly count"),
        ("week_start,count\n2026-01-05,nan\n2026-01-12,1\n", "line 2: 'nan' is not a weekly"),
        ("week_start,count\n2026-01-05,3\n2026-01-12,nan\n", "line 3: 'nan' is not a weekly"),
        ("week_start,count\n2026-01-05,inf\n", "line 2: 'inf' is not a weekly count"),
        ("week_start,count\n2026-01-05,three\n", "line 2: 'three' is not a weekly count"),
        # dates: parsed, increasing, whole weeks apart
        ("week_start,count\n05/01/2026,3\n", "line 2: '05/01/2026' is not a date"),
        (
            "week_start,count\n2026-01-12,3\n2026-01-05,4\n",
            "line 3: week 2026-01-05 does not follow 2026-01-12",
        ),
        ("week_start,count\n2026-01-05,3\n2026-01-05,4\n", "line 3: week 2026-01-05 does not"),
        ("week_start,count\n2026-01-05,3\n2026-01-08,4\n", "line 3: week 2026-01-08 does not"),
        ("week_start,count\n2026-01-05,3\n2026-01-12\n", "line 3: 1 fields, the header has 2"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^team\.weekly\.csv") as err:
        read_weekly(write(tmp_path, text))
    assert message in str(err.value)

"""The CSV writer: RFC 4180, ISO dates, formula injection defused, same rows same bytes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sextant.reports.domain.csv import csv_bytes, csv_chunks


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", '"\'\r=1"'),
        ("plain = text", "plain = text"),
        ("a-b", "a-b"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(text: str, written: str) -> None:
    assert csv_bytes(["c"], [[text]]) == f"c\r\n{written}\r\n".encode()


def test_numbers_dates_and_nothing_are_written_as_values_not_text() -> None:
    paris = timezone(timedelta(hours=1))
    rows = [[-3, 4.5, True, None, date(2026, 3, 2), datetime(2026, 3, 2, 10, 30, tzinfo=paris)]]
    assert csv_bytes(["a", "b", "c", "d", "e", "f"], rows) == (
        b"a,b,c,d,e,f\r\n-3,4.5,true,,2026-03-02,2026-03-02T09:30:00Z\r\n"
    )


def test_quotes_commas_and_line_breaks_are_quoted_and_read_back_whole() -> None:
    tricky = ['say "hi", then', "two\nlines", "naïve ☃"]
    body = csv_bytes(["x", "y", "z"], [tricky])
    assert body == 'x,y,z\r\n"say ""hi"", then","two\nlines",naïve ☃\r\n'.encode()
    assert list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""))) == [
        ["x", "y", "z"],
        tricky,
    ]


def test_chunks_join_to_the_same_bytes_every_time() -> None:
    rows = [
        [i, f"row {i}", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)]
        for i in range(5000)
    ]
    chunks = list(csv_chunks(["n", "name", "at"], iter(rows)))
    assert len(chunks) == 3  # 2,048 rows a chunk (the header with the first), then 904
    assert b"".join(chunks) == csv_bytes(["n", "name", "at"], rows)
    assert chunks[-1].endswith(b"4999,row 4999,2026-01-04T11:19:00Z\r\n")

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


def test_columns_of_mixed_or_odd_values_read_back_as_written() -> None:
    rows = [[1, 0.1, "", "a,b"], [None, 1e-07, "plain", "plain"], [3, float("nan"), "x", 'q"']]
    body = csv_bytes(["n", "f", "s", "needs, quoting"], rows)
    assert body == (
        b'n,f,s,"needs, quoting"\r\n1,0.1,,"a,b"\r\n,1e-07,plain,plain\r\n3,nan,x,"q"""\r\n'
    )


def test_a_lone_empty_field_is_quoted_so_its_row_is_not_read_as_blank() -> None:
    body = csv_bytes(["only"], [[""], ["x"]])
    assert body == b'only\r\n""\r\nx\r\n'
    assert list(csv.reader(io.StringIO(body.decode(), newline=""))) == [["only"], [""], ["x"]]


def test_a_row_wider_or_narrower_than_the_header_is_refused_by_number() -> None:
    with pytest.raises(ValueError, match="row 1 has 1 cells where the header has 2"):
        csv_bytes(["a", "b"], [[1, 2], [3]])


def test_utc_times_are_spelled_to_the_second_or_the_microsecond() -> None:
    times = [
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, 0, 7, tzinfo=UTC),
        datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC),
        datetime(2026, 12, 31, 9, 5, 1, tzinfo=UTC),
    ]
    assert csv_bytes(["at"], [[at] for at in times]) == (
        b"at\r\n2026-12-31T23:59:59Z\r\n2027-01-01T00:00:00.000007Z\r\n"
        b"1969-07-20T20:17:40.123456Z\r\n2026-12-31T09:05:01Z\r\n"
    )

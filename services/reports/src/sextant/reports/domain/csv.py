"""CSV as RFC 4180 says: UTF-8, a header row, CRLF line ends, a field quoted when it holds a
comma, a double quote (doubled inside) or a line break. Dates and times are ISO 8601 (times
in UTC with a ``Z``), numbers as Python spells them back exactly, nothing as an empty field.

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula (OWASP's list). Such a *text* cell is written with a
leading apostrophe (``'=1+1``), which spreadsheets show as text and never evaluate; numbers
are never text here, so a negative number stays a number.

The same rows give the same bytes. Rows are written as they come, a chunk of bytes at a
time, so memory stays flat however many rows a report has.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime

Cell = str | int | float | bool | date | datetime | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 2048


def cell_text(value: Cell) -> str:
    """One cell as its CSV text (before quoting), formula-looking text defused.

    The commonest types are tested first by exact type (one comparison each): this runs
    for every cell of a million-row export."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.isoformat()[:-6] + "Z"  # "+00:00" off
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):  # a str subclass (an enum's value)
        return cell_text(str(value))
    return repr(value)


def row_texts(row: Sequence[Cell]) -> list[str | int | float]:
    """A row as csv.writer takes it: ints and floats as they are (it spells them as
    :func:`cell_text` would, and faster), everything else through :func:`cell_text`."""
    out: list[str | int | float] = []
    for value in row:
        kind = type(value)
        if kind is str:
            text: str = value  # type: ignore[assignment]
            out.append("'" + text if text.startswith(FORMULA_STARTS) else text)
        elif kind is int or kind is float:
            out.append(value)  # type: ignore[arg-type]
        else:
            out.append(cell_text(value))
    return out


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The CSV file of ``header`` and ``rows`` as UTF-8 chunks of a few thousand rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell_text(name) for name in header])
    remaining = iter(rows)
    while batch := list(itertools.islice(remaining, ROWS_PER_CHUNK)):
        writer.writerows(map(row_texts, batch))
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The whole CSV file at once (a report small enough to hold)."""
    return b"".join(csv_chunks(header, rows))

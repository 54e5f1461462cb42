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
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime

Cell = str | int | float | bool | date | datetime | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 2048


def cell_text(value: Cell) -> str:
    """One cell as its CSV text (before quoting), formula-looking text defused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The CSV file of ``header`` and ``rows`` as UTF-8 chunks of a few thousand rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([cell_text(name) for name in header])
    pending = 1
    for row in rows:
        writer.writerow([cell_text(value) for value in row])
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The whole CSV file at once (a report small enough to hold)."""
    return b"".join(csv_chunks(header, rows))

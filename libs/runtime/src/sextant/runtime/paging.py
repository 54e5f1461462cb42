"""Every list pages the same way: ``?limit=`` bounds a page, ``?cursor=`` continues from the
previous page's ``next_cursor``, and a date or time a caller gives is one the code and
PostgreSQL can hold.

A cursor is opaque to callers: the URL-safe base64 of a kind byte and the position (a row
id, or a sequence number), in one canonical spelling. Anything else (another list's
cursor, a number that passes ``str.isdigit`` but not ``int``, a sequence past PostgreSQL's
bigint, random base64) is refused as a 400 naming the parameter, before any query runs."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel

from sextant.runtime.errors import InvalidInput

MAX_PAGE_SIZE: Final = 500
MAX_SEQ: Final = 2**63 - 1  # PostgreSQL's bigint: a larger position cannot be compared

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=64, description="the previous page's next_cursor; none for the first"),
]

_ID, _SEQ = b"i", b"s"
_ID_LENGTH, _SEQ_LENGTH = 1 + 16, 1 + 8
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{12,24}")  # what the two shapes encode to, no padding
T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)


def id_cursor(position: UUID) -> str:
    """The cursor of a list ordered by row id that continues after ``position``."""
    return _encode(_ID + position.bytes)


def seq_cursor(position: int) -> str:
    """The cursor of a list ordered by sequence number that continues from ``position``."""
    if not 0 < position <= MAX_SEQ:
        raise ValueError(f"a sequence cursor holds 1..{MAX_SEQ}, not {position}")
    return _encode(_SEQ + position.to_bytes(8, "big"))


def after_id(cursor: str | None, parameter: str = "cursor") -> UUID | None:
    """The row id an :func:`id_cursor` holds; None for the first page."""
    if cursor is None:
        return None
    return UUID(bytes=_decode(cursor, _ID, _ID_LENGTH, parameter)[1:])


def from_seq(cursor: str | None, parameter: str = "cursor") -> int | None:
    """The sequence number a :func:`seq_cursor` holds; None for the first page."""
    if cursor is None:
        return None
    position = int.from_bytes(_decode(cursor, _SEQ, _SEQ_LENGTH, parameter)[1:], "big")
    if not 0 < position <= MAX_SEQ:
        raise _refused(cursor, parameter)
    return position


def seq_number(text: str, parameter: str) -> int:
    """A sequence number a caller wrote in plain decimal (``?after=<seq>``), 0..bigint."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or int(text) > MAX_SEQ:
        raise InvalidInput(f"{parameter} must be a sequence number from 0 to {MAX_SEQ}")
    return int(text)


def next_cursor(rows: Sequence[T], limit: int, position: Callable[[T], UUID | int]) -> str | None:
    """The cursor of the page after ``rows``; none when this page is not full (the last)."""
    if len(rows) < limit or not rows:
        return None
    last = position(rows[-1])
    return id_cursor(last) if isinstance(last, UUID) else seq_cursor(last)


def page_by_id(page: type[P], rows: Sequence[Any], limit: int, item: Callable[[Any], object]) -> P:
    """The reply of a list in row-id order: ``page``'s ``items`` (each row as ``item`` shows
    it) and its ``next_cursor``, so every such route shapes its page the same way."""
    return page(items=[item(row) for row in rows], next_cursor=next_cursor(rows, limit, _row_id))


def _row_id(row: Any) -> UUID:
    position: UUID = row.id
    return position


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(cursor: str, kind: bytes, length: int, parameter: str) -> bytes:
    """The bytes of a cursor this API gave out, or a 400: one spelling per position (the
    encoding of the bytes must give the cursor back), so no other string decodes."""
    if not _BASE64URL.fullmatch(cursor):
        raise _refused(cursor, parameter)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _refused(cursor, parameter) from None
    if len(raw) != length or raw[:1] != kind or _encode(raw) != cursor:
        raise _refused(cursor, parameter)
    return raw


def _refused(cursor: str, parameter: str) -> InvalidInput:
    shown = cursor if len(cursor) <= 64 else f"{cursor[:64]}..."
    return InvalidInput(f"{parameter} {shown!r} is not one this API gave out", parameter=parameter)


# dates and times ------------------------------------------------------------------------

EARLIEST: Final = datetime(1, 1, 2, tzinfo=UTC)
LATEST: Final = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def storable_moment(value: datetime) -> datetime:
    """``value`` in UTC, when it lies a day inside Python's years 1..9999: a moment at the
    very edge overflows when converted to UTC (year 1 at +01:00, year 9999 at -14:00), and
    asyncpg stores 0001-01-01T00:00Z and 9999-12-31T23:59:59.999999Z as PostgreSQL's
    -infinity and infinity. Pydantic turns the ValueError into a 422 naming the field."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()} (UTC)")
    return utc


Moment = Annotated[AwareDatetime, AfterValidator(storable_moment)]
"""A date-time with its offset, in the range every service can store and compare."""

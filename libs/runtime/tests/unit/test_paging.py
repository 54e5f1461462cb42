"""The one cursor helper: what it gives out comes back as the same position, and any other
string is a 400 naming the parameter, never another exception (issue #25 item 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from uuid import UUID

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from sextant.runtime.errors import InvalidInput
from sextant.runtime.paging import (
    MAX_SEQ,
    Moment,
    after_id,
    from_seq,
    id_cursor,
    next_cursor,
    page_by_id,
    seq_cursor,
    seq_number,
)

seqs = st.integers(min_value=1, max_value=MAX_SEQ)


@given(st.uuids())
def test_an_id_cursor_gives_back_its_id(position: UUID) -> None:
    assert after_id(id_cursor(position)) == position


@given(seqs)
def test_a_seq_cursor_gives_back_its_seq(position: int) -> None:
    assert from_seq(seq_cursor(position)) == position


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A cursor given out with one character changed: the strings most like real ones."""
    given_out = draw(st.uuids().map(id_cursor) | seqs.map(seq_cursor))
    at = draw(st.integers(0, len(given_out) - 1))
    return given_out[:at] + draw(st.sampled_from(ALPHABET)) + given_out[at + 1 :]


def assert_refused(refused: InvalidInput) -> None:
    assert refused.status == 400
    assert refused.detail.startswith("page ")
    assert refused.extensions == {"parameter": "page"}


@given(
    st.text(max_size=40) | st.from_regex(r"[A-Za-z0-9_-]{10,26}", fullmatch=True) | near_misses()
)
@example("²")
@example("9" * 20)
@example("-1")
@example("00000000-0000-0000-0000-000000000000")
@example("AAAAAAAAAAAAAAAAAAAAAAA")  # right length, no list's kind
@example("aQAAAAAAAAAAAAAAAAAAAAB")  # an id cursor with trailing bits: a second spelling
@example("cwAAAAAAAAAA")  # a seq cursor holding 0
@example("c4AAAAAAAAAA")  # a seq cursor holding 2**63
@example("cwAAAAAAAAAB=")  # padding: a second spelling of seq 1
def test_any_other_string_is_refused_as_invalid_input_naming_the_parameter(text: str) -> None:
    try:
        row_id = after_id(text, "page")
    except InvalidInput as refused:
        assert_refused(refused)
    else:  # only what was given out decodes, so it encodes back to itself
        assert row_id is not None and id_cursor(row_id) == text
    try:
        seq = from_seq(text, "page")
    except InvalidInput as refused:
        assert_refused(refused)
    else:
        assert seq is not None and seq_cursor(seq) == text


def test_known_spellings_decode_to_worked_positions() -> None:
    # b"s" + (1).to_bytes(8) is 73 00 .. 01, which is base64url "cwAAAAAAAAAB".
    assert seq_cursor(1) == "cwAAAAAAAAAB"
    assert from_seq("cwAAAAAAAAAB") == 1
    # b"i" + 16 zero bytes.
    assert id_cursor(UUID(int=0)) == "aQAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(InvalidInput):  # an id cursor is not a seq cursor
        from_seq("aQAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(InvalidInput):
        after_id("cwAAAAAAAAAB")


def test_the_next_cursor_is_given_only_for_a_full_page() -> None:
    rows = [3, 2]
    assert next_cursor(rows, 2, lambda r: r) == seq_cursor(2)
    assert next_cursor(rows, 3, lambda r: r) is None
    assert next_cursor([], 1, lambda r: r) is None


class NamePage(BaseModel):
    items: list[str]
    next_cursor: str | None


def test_a_page_by_id_shows_each_row_and_continues_after_the_last_id() -> None:
    rows = [SimpleNamespace(id=UUID(int=1), name="a"), SimpleNamespace(id=UUID(int=0), name="b")]
    full = page_by_id(NamePage, rows, 2, lambda r: r.name.upper())
    assert full == NamePage(items=["A", "B"], next_cursor="aQAAAAAAAAAAAAAAAAAAAAA")
    assert page_by_id(NamePage, rows, 3, lambda r: r.name).next_cursor is None


@pytest.mark.parametrize("text", ["²", "-1", "1.5", "", " 1", "9223372036854775808", "9" * 40])
def test_a_plain_seq_outside_bigint_or_not_decimal_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="after must be a sequence number"):
        seq_number(text, "after")


def test_a_plain_seq_within_bigint_is_read() -> None:
    assert seq_number("0", "after") == 0
    assert seq_number("9223372036854775807", "after") == MAX_SEQ


MOMENT = TypeAdapter(Moment)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC: Python overflows
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "0001-01-01T00:00:00Z",  # what asyncpg sends as -infinity
        "9999-12-31T23:59:59.999999Z",  # what asyncpg sends as infinity
        "2024-01-01T00:00:00",  # no offset: which day it is depends on where
        "1e20",
    ],
)
def test_a_moment_outside_what_can_be_stored_is_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError):
        MOMENT.validate_python(text)


def test_a_moment_inside_is_read_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert MOMENT.validate_python("2024-01-01T09:00:00+09:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert MOMENT.validate_python(datetime(2024, 1, 1, 9, tzinfo=tokyo)).tzinfo is UTC
    assert MOMENT.validate_python("0001-01-02T00:00:00Z") == datetime(1, 1, 2, tzinfo=UTC)

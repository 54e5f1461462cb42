"""The pure cores of parts written straight from a consumer's batch: envelopes as a part's
columns, the rows kept after the redelivery check, the (time, id) order every part keeps,
and what the manifest entry says of a part."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sextant.archive.domain.parts import (
    columns_of_envelopes,
    ids_as_text,
    in_order,
    json_texts,
    rows_of,
    summary,
    table_of,
)
from sextant.contracts import Envelope

TENANT = UUID("0190f1c4-0000-7000-8000-000000000001")
WORKSPACE = UUID("0190f1c4-0000-7000-8000-0000000000aa")


def envelope(n: int, minute: int, workspace: UUID | None = None) -> Envelope:
    return Envelope(
        id=UUID(f"0190f1c4-0000-7000-8000-{n:012d}"),
        source="/sextant/ingest",
        type="sextant.activity.work_item.created.v1",
        subject=f"work_item:{n}",
        time=datetime(2026, 3, 1, 10, minute, tzinfo=UTC),
        tenantid=TENANT,
        workspaceid=workspace,
        data={"key": f"PROJ-{n}", "points": 3},
    )


def ids(n: int) -> str:
    return f"0190f1c4-0000-7000-8000-{n:012d}"


def test_envelopes_become_a_parts_columns_with_ids_as_text_and_data_as_json() -> None:
    columns = columns_of_envelopes([envelope(1, 0, WORKSPACE), envelope(2, 1)])
    assert columns["id"] == [ids(1), ids(2)]
    assert columns["tenantid"] == [str(TENANT)] * 2
    assert columns["workspaceid"] == [str(WORKSPACE), None]
    assert columns["data"] == [b'{"key":"PROJ-1","points":3}', b'{"key":"PROJ-2","points":3}']
    assert table_of(columns).column("data").to_pylist()[0] == '{"key":"PROJ-1","points":3}'


def test_rows_of_keeps_the_fresh_ids_once_each_in_the_order_given() -> None:
    columns = columns_of_envelopes(
        [envelope(1, 0), envelope(2, 1), envelope(3, 2), envelope(2, 1)]  # 2 twice (a replay)
    )
    kept = rows_of(columns, [ids(3), ids(2)])
    assert kept["id"] == [ids(2), ids(3)]
    assert kept["subject"] == ["work_item:2", "work_item:3"]


def test_a_part_is_in_time_then_id_order_and_its_summary_names_its_ends() -> None:
    # minute 5 twice: the tie goes by id; given out of order
    given = [envelope(3, 5), envelope(1, 7, WORKSPACE), envelope(2, 5), envelope(4, 2)]
    table = in_order(table_of(columns_of_envelopes(given)))
    assert table.column("id").to_pylist() == [ids(4), ids(2), ids(3), ids(1)]
    part = summary(table)
    assert (part.count, part.first_id, part.last_id) == (4, UUID(ids(4)), UUID(ids(1)))
    assert (part.first_at, part.last_at) == (
        datetime(2026, 3, 1, 10, 2, tzinfo=UTC),
        datetime(2026, 3, 1, 10, 7, tzinfo=UTC),
    )
    assert part.types == ("sextant.activity.work_item.created.v1",)
    assert part.workspace_ids == (WORKSPACE,)
    rising = in_order(table_of(columns_of_envelopes([envelope(9, 1), envelope(8, 2)])))
    assert rising.column("id").to_pylist() == [ids(9), ids(8)]  # rising time: kept as given


def test_ids_are_made_text_in_their_canonical_lowercase_form() -> None:
    given = [UUID("0190F1C4-0000-7000-8000-0000000000AA"), UUID(int=0)]
    assert ids_as_text(given) == [
        "0190f1c4-0000-7000-8000-0000000000aa",
        "00000000-0000-0000-0000-000000000000",
    ]
    assert ids_as_text([]) == []


def test_json_texts_are_each_values_own_even_when_they_hold_the_marker_or_commas() -> None:
    given = [
        {"a": [{"b": 1}, {"c": 2}]},  # "},{" inside a value
        {"s": ",\x01,"},  # the marker in a string: escaped, not split on
        [],
        None,
    ]
    assert json_texts(given) == [
        b'{"a":[{"b":1},{"c":2}]}',
        b'{"s":",\\u0001,"}',
        b"[]",
        b"null",
    ]
    assert json_texts([{"one": True}]) == [b'{"one":true}']
    assert json_texts([]) == []

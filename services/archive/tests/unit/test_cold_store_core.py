"""The archive's pure cores: part files, the manifest chain, verification; the hold
scope's validation."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from sextant.archive.db.replays import Restore
from sextant.archive.domain.manifest import GENESIS, ChainedEntry, ManifestEntry, chain_hash
from sextant.archive.domain.parts import ArchivedEvent, build_part, part_key, read_part_columns
from sextant.archive.domain.verify import Unreadable, check_chain, check_object, first_finding
from sextant.archive.restoring import replay_records
from sextant.archive.schemas import LegalHoldRequest
from sextant.contracts.envelope import from_kafka_binary

TENANT = UUID("0190f1c4-0000-7000-8000-000000000001")
WORKSPACE = UUID("0190f1c4-0000-7000-8000-0000000000aa")


def event(n: int, *, data: str = '{"n":1}') -> ArchivedEvent:
    return ArchivedEvent(
        id=UUID(f"0190f1c4-0000-7000-8000-{n:012d}"),
        specversion="1.0",
        source="/sextant/ingest",
        type="sextant.activity.work_item.created.v1",
        subject=f"work_item:{n}",
        time=datetime(2026, 3, 1, 10, n, tzinfo=UTC),
        datacontenttype="application/json",
        dataschema=None,
        tenantid=TENANT,
        workspaceid=WORKSPACE if n % 2 else None,
        traceparent=None,
        data=data,
    )


def test_a_part_key_is_hive_partitioned_by_tenant_topic_and_day() -> None:
    assert part_key(TENANT, "sextant.activity", date(2026, 3, 1), 7) == (
        "tenant=0190f1c4-0000-7000-8000-000000000001/topic=sextant.activity/"
        "day=2026-03-01/part-00007.parquet"
    )


def test_a_part_holds_the_envelope_fields_as_columns_and_the_data_as_json_zstd() -> None:
    data = build_part([event(1, data='{"key":"PROJ-1","points":3}'), event(2)])
    file = pq.ParquetFile(io.BytesIO(data))
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    table = file.read()
    assert table.column_names == [
        "id",
        "specversion",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "tenantid",
        "workspaceid",
        "traceparent",
        "data",
    ]
    first = table.to_pylist()[0]
    assert first["id"] == "0190f1c4-0000-7000-8000-000000000001"
    assert first["time"] == datetime(2026, 3, 1, 10, 1, tzinfo=UTC)
    assert first["workspaceid"] == str(WORKSPACE)
    assert table.to_pylist()[1]["workspaceid"] is None
    assert json.loads(first["data"]) == {"key": "PROJ-1", "points": 3}


def entry(seq: int, data: bytes, first: int = 1, last: int = 2, count: int = 2) -> ManifestEntry:
    return ManifestEntry(
        tenant_id=TENANT,
        seq=seq,
        manifest_id=UUID(int=seq),
        topic="sextant.activity",
        day=date(2026, 3, 1),
        object_key=f"k{seq}",
        event_count=count,
        first_event_id=event(first).id,
        last_event_id=event(last).id,
        first_at=datetime(2026, 3, 1, 10, 1, tzinfo=UTC),
        last_at=datetime(2026, 3, 1, 10, 2, tzinfo=UTC),
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        schema_versions=("sextant.activity.work_item.created.v1",),
        workspace_ids=(WORKSPACE,),
    )


def test_the_chain_hash_covers_the_previous_hash_and_the_canonical_entry() -> None:
    e = entry(1, b"x")
    canonical = (
        '{"day":"2026-03-01","event_count":2,'
        '"first_at":"2026-03-01T10:01:00+00:00",'
        '"first_event_id":"0190f1c4-0000-7000-8000-000000000001",'
        '"last_at":"2026-03-01T10:02:00+00:00",'
        '"last_event_id":"0190f1c4-0000-7000-8000-000000000002",'
        '"manifest_id":"00000000-0000-0000-0000-000000000001",'
        '"object_key":"k1",'
        '"schema_versions":["sextant.activity.work_item.created.v1"],'
        '"seq":1,'
        '"sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",'
        '"size_bytes":1,'
        '"tenant_id":"0190f1c4-0000-7000-8000-000000000001",'
        '"topic":"sextant.activity",'
        '"workspace_ids":["0190f1c4-0000-7000-8000-0000000000aa"]}'
    )
    expected = hashlib.sha256(("0" * 64 + "\n" + canonical).encode()).hexdigest()
    assert chain_hash(GENESIS, e) == expected


def chain(*entries: ManifestEntry) -> list[ChainedEntry]:
    rows, prev = [], GENESIS
    for e in entries:
        digest = chain_hash(prev, e)
        rows.append(ChainedEntry(e, prev, digest))
        prev = digest
    return rows


def test_an_intact_part_and_chain_have_no_findings() -> None:
    data = build_part([event(1), event(2)])
    rows = chain(entry(1, data), entry(2, data))
    assert check_chain(rows, (2, rows[-1].row_hash)) == []
    assert [check_object(r, data) for r in rows] == [None, None]


def test_an_altered_entry_is_found_at_its_seq_and_the_rest_of_the_chain_holds() -> None:
    data = build_part([event(1), event(2)])
    rows = chain(entry(1, data), entry(2, data), entry(3, data))
    altered = ChainedEntry(
        replace(rows[1].entry, event_count=3), rows[1].prev_hash, rows[1].row_hash
    )
    findings = check_chain([rows[0], altered, rows[2]], (3, rows[2].row_hash))
    assert [(f.seq, f.object_key) for f in findings] == [(2, "k2")]
    assert "altered" in findings[0].reason


def test_a_removed_entry_and_a_removed_newest_entry_are_found() -> None:
    data = build_part([event(1), event(2)])
    rows = chain(entry(1, data), entry(2, data), entry(3, data))
    gap = check_chain([rows[0], rows[2]], (3, rows[2].row_hash))
    assert gap[0].seq == 2 and "missing" in gap[0].reason
    newest_gone = check_chain(rows[:2], (3, rows[2].row_hash))
    assert [f.seq for f in newest_gone] == [3]


def test_a_missing_altered_or_short_object_is_named() -> None:
    data = build_part([event(1), event(2)])
    row = chain(entry(1, data))[0]
    missing = check_object(row, Unreadable.MISSING)
    assert missing is not None and missing.object_key == "k1" and "missing" in missing.reason
    other = build_part([event(1), event(3)])
    altered = check_object(row, other)
    assert altered is not None and "SHA-256" in altered.reason
    corrupt = check_object(row, Unreadable.CORRUPT)
    assert corrupt is not None and "altered" in corrupt.reason


def test_a_count_or_id_range_unlike_the_entry_is_found_even_with_a_matching_hash() -> None:
    data = build_part([event(1), event(2)])
    short = check_object(chain(entry(1, data, count=3))[0], data)
    assert short is not None and "holds 2 events, the manifest says 3" in short.reason
    shifted = check_object(chain(entry(1, data, first=1, last=3))[0], data)
    assert shifted is not None and "run" in shifted.reason
    garbage = check_object(chain(entry(1, b"not parquet"))[0], b"not parquet")
    assert garbage is not None and "not a readable part" in garbage.reason


def test_the_first_finding_is_the_earliest_entry() -> None:
    data = build_part([event(1), event(2)])
    rows = chain(entry(1, data), entry(2, data), entry(3, data))
    findings = [check_object(rows[2], Unreadable.MISSING), check_object(rows[1], b"")]
    first = first_finding(f for f in findings if f is not None)
    assert first is not None and first.object_key == "k2"


def test_a_hold_scope_names_the_tenant_or_a_well_formed_id() -> None:
    good = f"workspace:{WORKSPACE}"
    assert LegalHoldRequest(scope=good, reason="r").scope == good
    assert LegalHoldRequest(scope="tenant", reason="r").scope == "tenant"
    for bad in ("workspace:" + "-" * 36, "team:" + str(WORKSPACE), "developer:", "tenant:x"):
        with pytest.raises(ValidationError) as refused:
            LegalHoldRequest(scope=bad, reason="r")
        assert refused.value.errors()[0]["loc"] == ("scope",)


def test_a_restores_records_are_its_events_as_published_marked_with_it() -> None:
    restore = Restore(
        id=UUID("0190f1c4-0000-7000-8000-0000000000ff"),
        tenant_id=TENANT,
        topics=["sextant.activity"],
        since=datetime(2026, 3, 1, 10, 1, tzinfo=UTC),  # takes 10:01 and 10:02, not 10:03
        until=datetime(2026, 3, 1, 10, 3, tzinfo=UTC),
        workspace_id=None,
        status="running",
        objects_total=None,
        objects_done=0,
        events_published=0,
        after_seq=0,
        failure=None,
        requested_by="admin",
        created_at=datetime(2026, 3, 2, tzinfo=UTC),
        finished_at=None,
    )
    part = read_part_columns(build_part([event(1, data='{"key":"PROJ-1"}'), event(2), event(3)]))
    records = replay_records(part, "sextant.activity", restore)
    assert len(records) == 2
    record = records[0]
    assert (record.topic, record.value) == ("sextant.activity", b'{"key":"PROJ-1"}')
    assert record.key == f"{TENANT}/{WORKSPACE}/work_item:1"  # the key it was published on
    headers = dict(record.headers)
    assert headers["ce_replayid"] == b"0190f1c4-0000-7000-8000-0000000000ff"
    assert "ce_dataschema" not in headers and "ce_traceparent" not in headers
    back = from_kafka_binary(record.headers, record.value)  # as a consumer reads it
    assert (back.id, back.replayid, back.data) == (
        UUID("0190f1c4-0000-7000-8000-000000000001"),
        restore.id,
        {"key": "PROJ-1"},
    )
    assert back.time == datetime(2026, 3, 1, 10, 1, tzinfo=UTC)
    assert (back.tenantid, back.workspaceid, back.subject) == (TENANT, WORKSPACE, "work_item:1")
    assert back.inbox_id != back.id  # claimed per restore, not as the original
    second = from_kafka_binary(records[1].headers, records[1].value)
    assert (second.subject, second.workspaceid) == ("work_item:2", None)
    # a restore of one workspace takes its events alone
    only = replace(restore, workspace_id=WORKSPACE, until=datetime(2026, 3, 2, tzinfo=UTC))
    assert [dict(r.headers)["ce_subject"] for r in replay_records(part, "t", only)] == [
        b"work_item:1",
        b"work_item:3",
    ]

"""Large batches straight to parts: a consumer batch's large (tenant, topic, day) group is
written as its own verified part before the batch commits, with no event staged; a
redelivered batch (the first attempt killed after its part was stored, or an event twice
in it) archives each event once, with no statement refused on the way; a store that is
down records nothing and leaves the events to the flusher."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq
import pytest
from asyncpg.connection import LoggedQuery
from structlog.testing import capture_logs

from sextant.archive import coldstore
from sextant.archive.main import SPEC
from sextant.archive.settings import ArchiveSettings
from sextant.contracts import Envelope, uuid7
from sextant.contracts.topics import CONFIG, entity_key
from sextant.runtime.app import ServiceState, current_service
from sextant.runtime.consumer import Batched
from sextant.runtime.db import driver_connection, plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.plugin import InternalKeys

from .test_cold_store import archive, change

DAY = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = datetime.now(UTC) + timedelta(days=1)
DIRECT = ArchiveSettings(direct_part_min_events=3, part_max_events=50, part_max_age_seconds=1)


async def handle(
    state: ServiceState, envelopes: Sequence[Envelope], *, commit: bool
) -> list[BaseException]:
    """The config topic's handler on a batch, as the consumer runs it (in its service's
    context); ``commit=False`` is a consumer killed once the handler returned. Answers the
    errors of the statements PostgreSQL refused meanwhile (each one an ERROR in its log)."""
    handler = SPEC.handlers[CONFIG.name]
    assert isinstance(handler, Batched)
    refused: list[BaseException] = []

    def note(query: LoggedQuery) -> None:
        if query.exception is not None:
            refused.append(query.exception)

    entered = current_service.set(state)
    try:
        async with state.db.transaction(envelopes[0].tenantid) as session:
            with (await driver_connection(session)).query_logger(note):
                await handler.handle_many(session, envelopes)
            if not commit:
                await session.rollback()
    finally:
        current_service.reset(entered)
    return refused


async def fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_a_large_batch_becomes_a_verified_part_with_nothing_staged(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the bus: 5 events of one day (out of time order) and 2 of the next in one
    batch; the day of 5 is a part of its own before the batch commits, the 2 are staged."""
    monkeypatch.setenv("SEXTANT_ARCHIVE_DIRECT_PART_MIN_EVENTS", "5")
    tenant = uuid7()
    minutes = [3, 0, 4, 1, 2]
    big = [change(tenant, DAY + timedelta(minutes=m), n) for n, m in enumerate(minutes)]
    small = [change(tenant, NEXT_DAY, 10), change(tenant, NEXT_DAY, 11)]
    store = FolderObjectStore(tmp_path / "objects")
    async with archive(database_url, internal_keys, store) as (_, state):
        key = entity_key(tenant, None, "one")  # one partition: one batch
        await state.bus.publish([record_for(e, CONFIG.name, key) for e in big + small])
        async with asyncio.timeout(30):
            while len(await fetch(database_url, "SELECT 1 FROM archive.staged_events")) < 2:
                await asyncio.sleep(0.05)
        entries = await fetch(
            database_url,
            "SELECT part, event_count, first_event_id, last_event_id, object_key"
            " FROM archive.manifests",
        )
        staged = await fetch(database_url, "SELECT event_id FROM archive.staged_events")
        archived = await fetch(database_url, "SELECT event_id FROM archive.archived_ids")
        claimed = await fetch(  # (the lifecycle topic's ArchiveWritten claims its own)
            database_url,
            "SELECT event_id FROM archive.inbox WHERE event_id = ANY($1::uuid[])",
            [e.id for e in big + small],
        )
        in_time_order = [big[n] for n in (1, 3, 4, 0, 2)]
        assert [tuple(e)[:4] for e in entries] == [
            (1, 5, in_time_order[0].id, in_time_order[-1].id)
        ]
        assert {r["event_id"] for r in staged} == {e.id for e in small}
        assert {r["event_id"] for r in archived} == {e.id for e in big}
        assert claimed == []  # no inbox row per event
        part = pq.read_table(io.BytesIO(await store.get(entries[0]["object_key"])))
        assert part.column("id").to_pylist() == [str(e.id) for e in in_time_order]
        report = await coldstore.verify_tenant(state, tenant)
        assert (report.objects, report.events, report.findings) == (1, 5, [])


async def test_a_redelivered_large_batch_killed_after_its_part_was_stored_is_archived_once(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant = uuid7()
    events = [change(tenant, DAY + timedelta(minutes=n), n) for n in range(6)]
    store = FolderObjectStore(tmp_path / "objects")
    key = f"tenant={tenant}/topic={CONFIG.name}/day=2026-03-01/part-00001.parquet"
    async with archive(database_url, internal_keys, store) as (_, state):
        state.extras["archive_settings"] = DIRECT
        await handle(state, events[:2], commit=True)  # a small batch: staged
        await handle(state, events, commit=False)  # killed after its part was stored
        assert await store.list(f"tenant={tenant}/") == [key]
        assert await fetch(database_url, "SELECT 1 FROM archive.manifests") == []

        # redelivered, one event twice: the 4 not staged, each once; then again, after it
        # committed: nothing. A copy is left out by the claim, not refused by a unique key.
        assert await handle(state, [*events, events[3]], commit=True) == []
        assert await handle(state, events, commit=True) == []
        entries = await fetch(database_url, "SELECT part, event_count FROM archive.manifests")
        assert [tuple(e) for e in entries] == [(1, 4)]
        archived = await fetch(database_url, "SELECT event_id FROM archive.archived_ids")
        assert sorted(r["event_id"] for r in archived) == sorted(e.id for e in events[2:])
        part = pq.read_table(io.BytesIO(await store.get(key)))  # the first attempt's, replaced
        assert part.column("id").to_pylist() == [str(e.id) for e in events[2:]]

        assert await coldstore.flush_due(state, DIRECT, LATER) == 1  # the 2 staged
        report = await coldstore.verify_tenant(state, tenant)
        assert (report.objects, report.events, report.findings) == (2, 6, [])


async def test_a_store_down_during_a_large_batch_records_nothing_and_the_flusher_writes_it(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant = uuid7()
    events = [change(tenant, DAY + timedelta(minutes=n), n) for n in range(4)]
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    async with archive(database_url, internal_keys, FolderObjectStore(blocked)) as (_, state):
        state.extras["archive_settings"] = DIRECT
        with capture_logs() as logs:
            await handle(state, events, commit=True)
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
            "archive.direct_part_staged"
        ]
        assert await fetch(database_url, "SELECT 1 FROM archive.manifests") == []
        assert await fetch(database_url, "SELECT 1 FROM archive.archived_ids") == []
        staged = await fetch(database_url, "SELECT event_id FROM archive.staged_events")
        assert {r["event_id"] for r in staged} == {e.id for e in events}

        state.objects = FolderObjectStore(tmp_path / "objects")  # the store is back
        assert await coldstore.flush_due(state, DIRECT, LATER) == 1
        entries = await fetch(database_url, "SELECT part, event_count FROM archive.manifests")
        assert [tuple(e) for e in entries] == [(1, 4)]


async def test_a_part_waits_for_a_batch_staging_one_of_its_events_and_leaves_it_out(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    """Two replicas on one partition for a moment (a rebalance): one stages an event in a
    small batch while the other's large batch holds it too. The part waits for the
    staging to commit and leaves that event to the flusher: each event archived once."""
    tenant = uuid7()
    events = [change(tenant, DAY + timedelta(minutes=n), n) for n in range(4)]
    handler = SPEC.handlers[CONFIG.name]
    assert isinstance(handler, Batched)
    async with archive(database_url, internal_keys, FolderObjectStore(tmp_path / "o")) as (
        _,
        state,
    ):
        state.extras["archive_settings"] = DIRECT
        staging, release = asyncio.Event(), asyncio.Event()

        async def trickle() -> None:
            async with state.db.transaction(tenant) as session:
                await handler.handle_many(session, events[:1])
                staging.set()
                await release.wait()

        small = asyncio.create_task(trickle())
        async with asyncio.timeout(30):
            await staging.wait()
            large = asyncio.create_task(handle(state, events, commit=True))
            await asyncio.sleep(0.2)
            release.set()
            await asyncio.gather(small, large)
        entries = await fetch(database_url, "SELECT event_count FROM archive.manifests")
        staged = await fetch(database_url, "SELECT event_id FROM archive.staged_events")
        assert [e["event_count"] for e in entries] == [3]
        assert [r["event_id"] for r in staged] == [events[0].id]

"""Restore and replay: archived events published again, marked as replays.

A restore names topics, a time range ``[since, until)`` and optionally a workspace. The
worker (every ``restore_check_seconds``, one restore at a time per replica, under a
lease another replica takes over when it lapses) first re-reads and verifies every object
the restore covers (present, its SHA-256, count, id range, its entry's own hash): one that
fails ends the restore as failed, naming it, before anything is published. Then, object by
object in chain order, it publishes the object's events in the range on their own topic
and key with ``replayid`` set to the restore's id, straight to the bus (their records built
from the verified part, no model rebuilt), and then records the object done; a restore
taken over resumes after the last object done.

Not through the outbox: a replay is already durable (the part it comes from), and its
consumers claim it under (its id, the restore's id), so an object published again after a
crash before its progress was recorded is handled once. The outbox would write and delete
every event once more, for nothing (a third of the restore's rate).

Only the topics projections are built from may be replayed (``schemas.ReplayableTopic``): a
replayed config change would be appended to the audit log again, a replayed purge request
would purge again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from sextant.archive.coldstore import archive_settings, object_store
from sextant.archive.db import replays as restores
from sextant.archive.domain.manifest import ChainedEntry
from sextant.archive.domain.parts import PartColumns, read_part_table, table_of
from sextant.archive.domain.verify import Unreadable, check_object
from sextant.contracts.envelope import kafka_headers
from sextant.contracts.topics import entity_key
from sextant.runtime.app import ServiceState
from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.objectstore import ChecksumMismatch, ObjectNotFound
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

LEASE = timedelta(seconds=60)


PUBLISH_BATCH = 5000
VERIFIED_KEPT_BYTES = 64 * 1024 * 1024
"""The verified objects' bytes a restore keeps from its verification to publish from
(the first ones, about 2.5 million events' worth), instead of reading them again."""


def replay_records(
    columns: PartColumns, topic: str, restore: restores.Restore
) -> list[OutgoingRecord]:
    """The part's events the restore takes (its range, and workspace if it names one) as
    their bus records as published (same id, time, source, key, data text), marked as
    replays of the restore: see :func:`replay_records_of`."""
    return replay_records_of(table_of(columns), topic, restore)


def replay_records_of(
    table: pa.Table, topic: str, restore: restores.Restore
) -> list[OutgoingRecord]:
    """:func:`replay_records` from a part's table: the range and workspace chosen, the
    times made ISO text (UTC, ``Z``) and ``data`` bytes by Arrow; then each record's
    headers (the CloudEvents binding's, ``kafka_headers``' names) with those the part's
    events share (type, source, tenant, workspace...) encoded once per part, and the
    replay id once: no model, dict or UUID per event."""
    return records_of(chosen_rows(table, restore), topic, restore)


def chosen_rows(table: pa.Table, restore: restores.Restore) -> pa.Table:
    """A part's rows the restore takes: its range, and its workspace if it names one."""
    times = table.column("time")
    chosen = pc.and_(
        pc.greater_equal(times, pa.scalar(restore.since, times.type)),
        pc.less(times, pa.scalar(restore.until, times.type)),
    )
    if restore.workspace_id is not None:
        chosen = pc.and_(chosen, pc.equal(table.column("workspaceid"), str(restore.workspace_id)))
    return table.filter(chosen)


def records_of(table: pa.Table, topic: str, restore: restores.Restore) -> list[OutgoingRecord]:
    """Chosen rows as their replay records (see :func:`replay_records_of`)."""
    if table.num_rows == 0:
        return []
    column = {name: table.column(name).to_pylist() for name in _SHARED + _OWN}
    times = pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%SZ").to_pylist()
    values = table.column("data").cast(pa.binary()).to_pylist()
    replay = (("ce_replayid", str(restore.id).encode()),)
    shared: dict[tuple[str | None, ...], tuple[tuple[str, bytes], ...]] = {}
    records = []
    rows = zip(*(column[name] for name in _SHARED + _OWN), times, values, strict=True)
    for *attributes, id_, subject, traceparent, time, value in rows:
        kind = tuple(attributes)
        common = shared.get(kind)
        if common is None:
            common = shared[kind] = _shared_headers(*kind)
        own = [("ce_id", id_.encode()), ("ce_time", time.encode())]
        if subject is not None:
            own.append(("ce_subject", subject.encode()))
        if traceparent is not None:
            own.append(("ce_traceparent", traceparent.encode()))
        key = entity_key(kind[-2], kind[-1], subject or "")
        records.append(OutgoingRecord(topic, key, (*common, *own, *replay), value))
    return records


_SHARED = (
    "datacontenttype",
    "specversion",
    "source",
    "type",
    "dataschema",
    "tenantid",
    "workspaceid",
)
"""The attributes events of a part mostly share: their headers are encoded once a part."""
_OWN = ("id", "subject", "traceparent")


def _shared_headers(*values: str | None) -> tuple[tuple[str, bytes], ...]:
    """The headers of the attributes in ``_SHARED`` (``kafka_headers``' names), once."""
    content_type, *rest = values
    attributes = dict(zip(_SHARED[1:], rest, strict=True))
    return tuple(kafka_headers({"datacontenttype": content_type, **attributes}))


async def _fetch(state: ServiceState, row: ChainedEntry) -> bytes | str:
    """The object's bytes once they verify; else why not."""
    fetched: bytes | Unreadable
    try:
        fetched = await object_store(state).get(row.entry.object_key)
    except ObjectNotFound:
        fetched = Unreadable.MISSING
    except ChecksumMismatch:
        fetched = Unreadable.CORRUPT
    finding = check_object(row, fetched)
    if finding is not None:
        return f"{row.entry.object_key}: {finding.reason}"
    assert isinstance(fetched, bytes)
    return fetched


async def publish_part(
    state: ServiceState, table: pa.Table, topic: str, restore: restores.Restore
) -> int:
    """Publish a verified part's chosen rows, ``PUBLISH_BATCH`` records a call and in
    order, building the next call's records (in a thread) while the bus takes the last's;
    how many were published."""
    chosen = chosen_rows(table, restore)
    calls = [chosen.slice(i, PUBLISH_BATCH) for i in range(0, chosen.num_rows, PUBLISH_BATCH)]
    if not calls:
        return 0
    pending = asyncio.ensure_future(asyncio.to_thread(records_of, calls[0], topic, restore))
    try:
        for following in [*calls[1:], None]:
            records = await pending
            if following is not None:
                pending = asyncio.ensure_future(
                    asyncio.to_thread(records_of, following, topic, restore)
                )
            await state.bus.publish(records)
    finally:
        if not pending.done():  # the bus failed: the records being built are not needed
            await asyncio.wait([pending])
    return int(chosen.num_rows)


async def run_restore(state: ServiceState, restore: restores.Restore) -> None:
    """Verify, then publish, the restore's objects (see the module)."""
    async with state.db.transaction(restore.tenant_id) as session:
        rows = await restores.covered(session, restore)
    verified: dict[int, bytes] = {}  # kept for publishing, up to VERIFIED_KEPT_BYTES
    kept = 0
    for row in rows:  # every object first: nothing is published from an unverified copy
        why = await _fetch(state, row)
        if isinstance(why, bytes) and kept + len(why) <= VERIFIED_KEPT_BYTES:
            verified[row.entry.seq] = why
            kept += len(why)
        if isinstance(why, str):
            async with state.db.transaction(restore.tenant_id) as session:
                await restores.update(
                    session,
                    restore.id,
                    status="failed",
                    failure=f"unverified: {why}",
                    finished_at=datetime.now(UTC),
                    lease_until=None,
                )
            log.warning("archive.restore_failed", restore_id=str(restore.id), reason=why)
            return
    if restore.objects_total is None:
        async with state.db.transaction(restore.tenant_id) as session:
            await restores.update(session, restore.id, objects_total=len(rows))
    for row in rows:
        data = verified.pop(row.entry.seq, None) or await _fetch(state, row)
        if isinstance(data, str):  # altered since it verified: the next lease tries again
            raise RuntimeError(data)
        table = await asyncio.to_thread(read_part_table, data)
        published = await publish_part(state, table, row.entry.topic, restore)
        async with state.db.transaction(restore.tenant_id) as session:
            await restores.progress(
                session, restore.id, row.entry.seq, published, datetime.now(UTC) + LEASE
            )
    async with state.db.transaction(restore.tenant_id) as session:
        await restores.update(
            session, restore.id, status="done", finished_at=datetime.now(UTC), lease_until=None
        )
    log.info("archive.restore_done", restore_id=str(restore.id), objects=len(rows))


async def run_next(state: ServiceState, now: datetime | None = None) -> bool:
    """Take the next open restore and run it; whether there was one."""
    now = now or datetime.now(UTC)
    async with state.db.transaction() as session:
        restore = await restores.lease_next(session, now, now + LEASE)
    if restore is None:
        return False
    await run_restore(state, restore)
    return True


async def start(state: ServiceState) -> None:
    """Start the restore worker: every ``restore_check_seconds``, every open restore."""
    every = archive_settings(state).restore_check_seconds

    async def loop() -> None:
        while True:
            try:
                while await run_next(state):
                    pass
            except Exception as exc:  # the store down: the lease lapses, a later run resumes
                log.warning("archive.restore_run_failed", error=str(exc))
            await asyncio.sleep(every)

    state.extras["archive_restorer"] = asyncio.create_task(loop(), name="archive-restorer")


async def stop(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("archive_restorer"))

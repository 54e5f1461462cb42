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

import structlog

from sextant.archive.coldstore import archive_settings, object_store
from sextant.archive.db import replays as restores
from sextant.archive.domain.manifest import ChainedEntry
from sextant.archive.domain.parts import SCHEMA, PartColumns, read_part_columns
from sextant.archive.domain.verify import Unreadable, check_object
from sextant.contracts.envelope import kafka_headers
from sextant.contracts.topics import entity_key
from sextant.runtime.app import ServiceState
from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.objectstore import ChecksumMismatch, ObjectNotFound
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

LEASE = timedelta(seconds=60)


PUBLISH_BATCH = 1000


def replay_records(
    columns: PartColumns, topic: str, restore: restores.Restore
) -> list[OutgoingRecord]:
    """The part's events the restore takes (its range, and workspace if it names one) as
    their bus records as published (same id, time, source, key, data text), marked as
    replays of the restore: straight from the part's columns, no model or UUID rebuilt."""
    workspace = None if restore.workspace_id is None else str(restore.workspace_id)
    replayid = str(restore.id)
    records = []
    for row in zip(*(columns[name] for name in SCHEMA.names), strict=True):
        (id_, specversion, source, type_, subject, time, content_type, dataschema) = row[:8]
        tenantid, workspaceid, traceparent, data = row[8:]
        if not restore.since <= time < restore.until:
            continue
        if workspace is not None and workspaceid != workspace:
            continue
        attributes = {
            "specversion": specversion,
            "id": id_,
            "source": source,
            "type": type_,
            "subject": subject,
            "time": time.isoformat(),
            "datacontenttype": content_type,
            "dataschema": dataschema,
            "tenantid": tenantid,
            "workspaceid": workspaceid,
            "traceparent": traceparent,
            "replayid": replayid,
        }
        key = entity_key(tenantid, workspaceid, subject or "")
        records.append(OutgoingRecord(topic, key, tuple(kafka_headers(attributes)), data.encode()))
    return records


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


async def run_restore(state: ServiceState, restore: restores.Restore) -> None:
    """Verify, then publish, the restore's objects (see the module)."""
    async with state.db.transaction(restore.tenant_id) as session:
        rows = await restores.covered(session, restore)
    for row in rows:  # every object first: nothing is published from an unverified copy
        why = await _fetch(state, row)
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
        data = await _fetch(state, row)
        if isinstance(data, str):  # altered since it verified: the next lease tries again
            raise RuntimeError(data)
        records = replay_records(read_part_columns(data), row.entry.topic, restore)
        for i in range(0, len(records), PUBLISH_BATCH):
            await state.bus.publish(records[i : i + PUBLISH_BATCH])
        async with state.db.transaction(restore.tenant_id) as session:
            await restores.progress(
                session, restore.id, row.entry.seq, len(records), datetime.now(UTC) + LEASE
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

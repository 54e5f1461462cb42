"""The cold store's shell: writing parts (waiting partitions, or a consumer's large
batch straight away), and verifying them.

A part is written, then recorded: its events are taken (deleted from the waiting ones,
their ids kept; or, straight from a batch, their ids claimed) and its manifest entry added
in one transaction, committed after the object is stored, read back and verified. A crash
between the two leaves an object no entry names, under the part number the next part
takes again (overwritten); a crash before the commit loses nothing (the events still wait,
or the bus delivers the batch again). So every event ends in exactly one recorded part.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pyarrow as pa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import coldstore, policies
from sextant.archive.domain import parts
from sextant.archive.domain.manifest import GENESIS, ChainedEntry, ManifestEntry, chain_hash
from sextant.archive.domain.purge import cold_until
from sextant.archive.domain.retention import effective
from sextant.archive.domain.verify import Finding, Unreadable, check_chain, check_object
from sextant.archive.settings import ArchiveSettings
from sextant.contracts import Envelope
from sextant.contracts.events.platform import ArchiveWritten
from sextant.contracts.ids import uuid7
from sextant.runtime.app import ServiceState
from sextant.runtime.errors import Unavailable
from sextant.runtime.objectstore import ChecksumMismatch, ObjectNotFound, ObjectStore
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

VERIFY_PAGE = 500


class PartNotStored(Exception):
    """A part the store did not keep as written (down, refused, or read back otherwise):
    nothing of it may be recorded."""


def object_store(state: ServiceState) -> ObjectStore:
    """The store the cold copies go to (the runtime's: S3, or the data folder)."""
    if state.objects is None:
        raise Unavailable("the archive has no object store configured")
    return state.objects


async def flush_due(
    state: ServiceState, settings: ArchiveSettings, now: datetime | None = None
) -> int:
    """Write every partition that is due (by size or age) to part files; how many parts."""
    now = now or datetime.now(UTC)
    async with state.db.transaction() as session:
        partitions = await coldstore.partitions_waiting(session)
    written = 0
    for partition in partitions:
        written += await flush_partition(state, settings, partition, now)
    return written


async def flush_partition(
    state: ServiceState,
    settings: ArchiveSettings,
    partition: coldstore.Partition,
    now: datetime,
) -> int:
    """Write a partition's waiting events, a part of at most ``part_max_events`` at a
    time, if it is due; forget the partition once nothing waits. How many parts."""
    max_age = timedelta(seconds=settings.part_max_age_seconds)
    written = 0
    while True:
        async with state.db.transaction(partition.tenant_id) as session:
            waiting = await coldstore.waiting(session, partition)
            if waiting.count == 0:
                await coldstore.close_partition(session, partition)
                return written
            oldest = waiting.oldest_staged_at
            aged = oldest is not None and now - oldest >= max_age
            if waiting.count < settings.part_max_events and not aged:
                return written
            if await write_part(state, session, partition, settings.part_max_events) is None:
                continue  # written meanwhile by another replica: look again
            written += 1


async def write_part(
    state: ServiceState, session: AsyncSession, partition: coldstore.Partition, limit: int
) -> ChainedEntry | None:
    """One part file of the partition's oldest waiting events, stored, verified and
    recorded; None when another replica wrote them while this one waited for the chain's
    lock."""
    await coldstore.lock_chain(session, partition.tenant_id)
    columns = await coldstore.take_waiting(session, partition, limit)
    if not columns["id"]:
        return None
    table = await asyncio.to_thread(parts.table_of, columns)
    return await store_part(
        state, session, partition.tenant_id, partition.topic, partition.day, table
    )


async def write_direct(
    state: ServiceState,
    session: AsyncSession,
    tenant: UUID,
    topic: str,
    day: date,
    envelopes: Sequence[Envelope],
) -> ChainedEntry | None:
    """A consumer's large group of one (tenant, topic, day) written as its own part, with
    no event staged: stored, verified and recorded in the consumer's transaction, so the
    bus offset moves on only once the part is durable (a rollback or a crash before the
    commit leaves the events to be delivered again, and the stored object unnamed, under
    the part number the next part takes). An event this tenant archived before or still
    has waiting (a redelivery) is left out, by one set-based insert of the ids into
    ``archived_ids`` under the chain's lock; None when every event was such a copy."""
    await coldstore.lock_chain(session, tenant)
    columns = await asyncio.to_thread(parts.columns_of_envelopes, envelopes)
    fresh = await coldstore.claim_archived(session, tenant, columns["id"])
    if fresh is not None:  # some were archived or waiting already: the others, each once
        columns = parts.rows_of(columns, fresh)
    if not columns["id"]:
        return None
    table = await asyncio.to_thread(parts.table_of, columns)
    return await store_part(state, session, tenant, topic, day, table)


async def store_part(
    state: ServiceState,
    session: AsyncSession,
    tenant: UUID,
    topic: str,
    day: date,
    table: pa.Table,
) -> ChainedEntry:
    """Store a part's rows (taken or claimed in ``session``, under the tenant's chain lock)
    as the partition's next part file, read it back and verify it, then chain its manifest
    entry and announce it, in ``session``: the one place a part is written."""
    head = await coldstore.chain_head(session, tenant)
    part = await coldstore.next_part(session, tenant, topic, day)
    table = parts.in_order(table)
    data = await asyncio.to_thread(parts.write_part, table)
    rows = parts.summary(table)
    key = parts.part_key(tenant, topic, day, part)
    entry = ManifestEntry(
        tenant_id=tenant,
        seq=1 if head is None else head.seq + 1,
        manifest_id=uuid7(),
        topic=topic,
        day=day,
        object_key=key,
        event_count=rows.count,
        first_event_id=rows.first_id,
        last_event_id=rows.last_id,
        first_at=rows.first_at,
        last_at=rows.last_at,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        schema_versions=rows.types,
        workspace_ids=rows.workspace_ids,
    )
    prev = GENESIS if head is None else head.row_hash
    chained = ChainedEntry(entry, prev, chain_hash(prev, entry))
    # Object Lock (where the bucket has it) keeps the copy until its cold period ends
    periods = effective(await policies.chosen(session, tenant))
    retain = cold_until(topic, entry.last_at, periods)
    store = object_store(state)
    try:
        stored = await store.put(key, data, parts.CONTENT_TYPE, retain_until=retain)
        fetched = await store.get(key)
    except Exception as exc:  # the store's failure, however it shows: nothing recorded
        raise PartNotStored(f"{key}: the object store failed: {exc}") from exc
    if stored.sha256 != entry.sha256:
        raise PartNotStored(f"{key}: the store kept it with another checksum")
    if (finding := check_object(chained, fetched)) is not None:
        raise PartNotStored(f"{key}: read back, {finding.reason}")
    await coldstore.record_part(session, chained, part)
    await state.outbox.add(
        session,
        ArchiveWritten(
            manifest_id=entry.manifest_id,
            object_key=key,
            sha256=entry.sha256,
            row_count=entry.event_count,
            covers_until=entry.last_at,
        ),
        tenant_id=tenant,
        entity=f"manifest:{entry.manifest_id}",
    )
    log.info(
        "archive.part_written",
        topic=topic,
        day=str(day),
        part=part,
        events=rows.count,
        bytes=len(data),
    )
    return chained


@dataclass
class Verification:
    """What verifying a tenant's cold store found."""

    objects: int = 0
    events: int = 0
    tombstones: int = 0  # entries whose object was deleted at the end of its cold period
    findings: list[Finding] = field(default_factory=list)


async def verify_tenant(state: ServiceState, tenant: UUID) -> Verification:
    """Re-read every object of the tenant's manifest and check it and the chain."""
    store = object_store(state)
    report = Verification()
    rows: list[coldstore.ManifestRow] = []
    after: int | None = None
    while True:
        async with state.db.transaction(tenant) as session:
            page = await coldstore.list_manifests(
                session, tenant, after_seq=after, limit=VERIFY_PAGE
            )
            head = await coldstore.chain_head(session, tenant)
        rows.extend(page)
        if len(page) < VERIFY_PAGE:
            break
        after = page[-1].chained.entry.seq
    chain = [r.chained for r in rows]
    report.findings.extend(check_chain(chain, None if head is None else (head.seq, head.row_hash)))
    for listed in rows:
        if listed.deleted_at is not None:  # a tombstone: its object is gone by design
            report.tombstones += 1
            continue
        row = listed.chained
        fetched: bytes | Unreadable
        try:
            fetched = await store.get(row.entry.object_key)
        except ObjectNotFound:
            fetched = Unreadable.MISSING
        except ChecksumMismatch:
            fetched = Unreadable.CORRUPT
        except Exception as exc:  # the store's own failure (down, refused): not a finding
            log.warning("archive.verify_unavailable", error=str(exc))
            raise Unavailable("the object store could not be read; nothing was verified") from exc
        if (finding := check_object(row, fetched)) is not None:
            report.findings.append(finding)
        report.objects += 1
        report.events += row.entry.event_count
    report.findings.sort(key=lambda f: f.seq)  # the earliest first, as the reply lists them
    return report


def archive_settings(state: ServiceState) -> ArchiveSettings:
    """The archive's settings, read from the environment once per running service."""
    settings: ArchiveSettings = state.extras.setdefault("archive_settings", ArchiveSettings())
    return settings


async def start(state: ServiceState) -> None:
    """Start the flusher: every ``flush_check_seconds``, write what is due."""
    settings = archive_settings(state)

    async def loop() -> None:
        while True:
            try:
                await flush_due(state, settings)
            except Exception as exc:
                log.warning("archive.flush_failed", error=str(exc))
            await asyncio.sleep(settings.flush_check_seconds)

    state.extras["archive_flusher"] = asyncio.create_task(loop(), name="archive-flusher")


async def stop(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("archive_flusher"))

"""Archive's event handlers: every topic's events archived in the cold store.

Each topic's handler is :class:`~sextant.runtime.consumer.Batched` (up to ``BATCH`` of one
tenant's events): in a batch, a (UTC day) group of at least ``direct_part_min_events``
is written as a part of its own, stored, verified and recorded before the batch commits
(:func:`sextant.archive.coldstore.write_direct`); the rest are staged in one statement, so
an event the bus counts as handled is durably waiting for its part file (the flusher,
:mod:`sextant.archive.coldstore`, writes them out by size or age).

Every topic but the lifecycle claims no inbox: the archive knows an event it holds by its
id (waiting in ``staged_events`` or recorded in ``archived_ids``), so a redelivery is
archived once without the inbox's row per event. The lifecycle handler does more than
archive (answers, soft deletes) and claims it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date
from uuid import UUID

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import sextant.contracts.topics  # noqa: F401 - defining the topics registers them in TOPICS
from sextant.archive import coldstore as shell
from sextant.archive import scopes
from sextant.archive.coldstore import archive_settings
from sextant.archive.db import coldstore
from sextant.archive.domain.parts import ArchivedEvent
from sextant.contracts import TOPICS, Envelope
from sextant.contracts.events.platform import ArchiveWritten, PurgeDone
from sextant.contracts.registry import type_of
from sextant.contracts.topics import LIFECYCLE
from sextant.runtime.app import ServiceState, current_service
from sextant.runtime.consumer import Batched, BatchHandle, Handler

log = structlog.get_logger()

ARCHIVE_WRITTEN = type_of(ArchiveWritten)
"""Not archived: the manifest is its record, and archiving it would write a part for
every part written, forever."""

PURGE_DONE = type_of(PurgeDone)
BATCH = 50_000
"""A batch's most events (one tenant's, consecutive on a partition): a backlog's batch is
large enough to hold whole parts."""


def archived_event(envelope: Envelope) -> ArchivedEvent:
    """An envelope as the cold store keeps it."""
    return ArchivedEvent(
        id=envelope.id,
        specversion=envelope.specversion,
        source=envelope.source,
        type=envelope.type,
        subject=envelope.subject,
        time=envelope.time,
        datacontenttype=envelope.datacontenttype,
        dataschema=envelope.dataschema,
        tenantid=envelope.tenantid,
        workspaceid=envelope.workspaceid,
        traceparent=envelope.traceparent,
        data=orjson.dumps(envelope.data).decode(),
    )


def staging(topic: str) -> BatchHandle:
    """The handler that archives ``topic``'s events (a batch is one tenant's): large day
    groups as parts of their own, the others staged."""

    async def stage(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        kept = [e for e in envelopes if e.type != ARCHIVE_WRITTEN]
        if not kept:
            return
        tenant = kept[0].tenantid
        waiting = kept
        state = current_service.get()  # None outside a running service: everything staged
        if state is not None:
            waiting = await write_large_groups(state, session, tenant, topic, kept)
        if waiting:
            await coldstore.stage(session, tenant, topic, [archived_event(e) for e in waiting])

    return stage


async def write_large_groups(
    state: ServiceState,
    session: AsyncSession,
    tenant: UUID,
    topic: str,
    envelopes: list[Envelope],
) -> list[Envelope]:
    """Write each day group of at least ``direct_part_min_events`` as its own parts (of at
    most ``part_max_events``); the events left to stage. A group whose part the store does
    not keep is rolled back to before it and staged instead: nothing of it is recorded,
    and the flusher writes it once the store is back (the consumer goes on meanwhile)."""
    settings = archive_settings(state)
    if len(envelopes) < settings.direct_part_min_events:
        return envelopes
    by_day: dict[date, list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        by_day[envelope.time.astimezone(UTC).date()].append(envelope)
    left: list[Envelope] = []
    for day, group in by_day.items():
        if len(group) < settings.direct_part_min_events:
            left.extend(group)
            continue
        try:
            async with session.begin_nested():
                for i in range(0, len(group), settings.part_max_events):
                    chunk = group[i : i + settings.part_max_events]
                    await shell.write_direct(state, session, tenant, topic, day, chunk)
        except shell.PartNotStored as exc:
            log.warning("archive.direct_part_staged", topic=topic, day=str(day), error=str(exc))
            left.extend(group)
    return left


def lifecycle(stage: BatchHandle) -> BatchHandle:
    """The lifecycle topic's handler: staged like every topic, each owner's ``PurgeDone``
    recorded against its request, soft deletes and restores noted for the scope purge."""

    async def handle(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        await stage(session, envelopes)
        for envelope in envelopes:
            if envelope.type != PURGE_DONE:
                await scopes.note(session, envelope)
                continue
            done = PurgeDone.model_validate(envelope.data)
            answered = done.data_class or (f"scope:{done.scope}" if done.scope else None)
            if answered is None:
                continue  # an owner that names no class answers no request of ours
            await coldstore.record_answer(
                session,
                envelope.tenantid,
                done.manifest_id,
                answered,
                done.service,
                done.rows_deleted,
                envelope.time,
            )

    return handle


def handlers() -> dict[str, Handler]:
    """Every registered topic (not the DLQs), each staged by its own batched handler."""
    own: dict[str, Handler] = {
        topic.name: Batched(staging(topic.name), BATCH, claims_inbox=False)
        for topic in TOPICS.values()
    }
    own[LIFECYCLE.name] = Batched(lifecycle(staging(LIFECYCLE.name)), BATCH)
    return own

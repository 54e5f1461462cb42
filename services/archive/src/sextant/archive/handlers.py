"""Archive's event handlers: every topic's events staged for the cold store.

Each topic's handler is :class:`~sextant.runtime.consumer.Batched`: a batch of one
tenant's events is staged in one statement, in the transaction that claims their inbox,
so an event the bus counts as handled is durably waiting for its part file (the flusher,
:mod:`sextant.archive.coldstore`, writes them out by size or age).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

import sextant.contracts.topics  # noqa: F401 - defining the topics registers them in TOPICS
from sextant.archive import scopes
from sextant.archive.db import coldstore
from sextant.archive.domain.parts import ArchivedEvent
from sextant.contracts import TOPICS, Envelope
from sextant.contracts.events.platform import ArchiveWritten, PurgeDone
from sextant.contracts.registry import type_of
from sextant.contracts.topics import LIFECYCLE
from sextant.runtime.consumer import Batched, BatchHandle, Handler

ARCHIVE_WRITTEN = type_of(ArchiveWritten)
"""Not archived: the manifest is its record, and archiving it would write a part for
every part written, forever."""

PURGE_DONE = type_of(PurgeDone)
BATCH = 1000


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
    """The handler that stages ``topic``'s events (a batch is one tenant's)."""

    async def stage(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        kept = [archived_event(e) for e in envelopes if e.type != ARCHIVE_WRITTEN]
        if kept:
            await coldstore.stage(session, envelopes[0].tenantid, topic, kept)

    return stage


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
        topic.name: Batched(staging(topic.name), BATCH) for topic in TOPICS.values()
    }
    own[LIFECYCLE.name] = Batched(lifecycle(staging(LIFECYCLE.name)), BATCH)
    return own

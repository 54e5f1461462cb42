"""Purging work items deleted in their tool once their grace period is over.

Forecast and insights keep an item deleted in its tool soft-deleted (``deleted_at``). Each
purge run asks them, per tenant, to delete those deleted at or before the cut-off — the
tenant's ``deleted_work_items`` hot period counted back from now, to the start of that UTC
day (:func:`sextant.archive.domain.purge.deleted_items_cutoff`) — with a ``PurgeRequested``
of class ``deleted_work_items``, only when:

- every stored object of the work items' topics (activity, attributed activity) whose
  events start by the cut-off verifies (present, SHA-256, count, id range, its entry's own
  hash); each is re-read once, and the manifest seq up to which they all did is kept, so a
  run reads only the objects written since. One that does not raises the tenant admins'
  notification (as the retention purge does) and nothing is asked;
- no event of those topics at or before the cut-off still waits for its part.

The request names every legal hold in force that starts by the cut-off; the owners keep
the items whose life (creation to deletion) a hold's range meets, in its workspace or of
its developer (:mod:`sextant.runtime.purge`). It goes out when the cut-off moved on (once
a day) or the holds changed since the last one (a released hold lets its items go the
same day). Its ``manifest_id`` is the request's own id; the owners' ``PurgeDone`` answers
are recorded against it as class ``deleted_work_items``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import structlog

from sextant.archive.db import coldstore, deleted_items, holds, policies
from sextant.archive.domain.purge import (
    WORK_ITEM_TOPICS,
    Hold,
    deleted_items_cutoff,
    deleted_items_due,
    holds_meeting_lives,
)
from sextant.archive.domain.retention import effective
from sextant.archive.purging import raise_unverified, why_unverified
from sextant.contracts import uuid7
from sextant.contracts.events.platform import DELETED_WORK_ITEMS, PurgeHold, PurgeRequested
from sextant.runtime.app import ServiceState

log = structlog.get_logger()


def _sent(named: frozenset[Hold]) -> list[PurgeHold]:
    """The holds as the request names them (in a stable order)."""
    return sorted(
        (
            PurgeHold(
                scope_kind=h.scope_kind,
                scope_id=h.scope_id,
                starts_at=h.starts_at,
                ends_at=h.ends_at,
            )
            for h in named
        ),
        key=lambda h: h.model_dump_json(),
    )


async def request_deleted_items(
    state: ServiceState, tenant: UUID, now: datetime | None = None
) -> UUID | None:
    """Ask the owners to purge the tenant's items deleted in their tool past their grace
    (see the module); the request's id, or None when none went out."""
    now = now or datetime.now(UTC)
    async with state.db.transaction(tenant) as session:
        grace = effective(await policies.chosen(session, tenant))["deleted_work_items"].hot_days
        in_force = [
            Hold(h.scope_kind, h.scope_id, h.starts_at, h.ends_at)
            for h in await holds.active(session, tenant)
        ]
        before = await deleted_items.last(session, tenant)
        stored = await coldstore.kept_objects(session, tenant)
    cutoff = deleted_items_cutoff(now, grace)
    named = holds_meeting_lives(in_force, cutoff)
    if not deleted_items_due(before.older_than, before.holds, cutoff, named):
        return None
    verified, contiguous, why = before.verified_seq, True, None
    for row in stored:
        entry = row.chained.entry
        if entry.seq <= before.verified_seq or entry.topic not in WORK_ITEM_TOPICS:
            continue
        if entry.first_at > cutoff:
            contiguous = False  # read again once the cut-off reaches it
            continue
        why = await why_unverified(state, row.chained)
        if why is not None:
            async with state.db.transaction(tenant) as session:
                await raise_unverified(state, session, tenant, row.chained, why)
            break
        if contiguous:
            verified = entry.seq
    async with state.db.transaction(tenant) as session:
        if why is None:
            for topic in WORK_ITEM_TOPICS:
                if await coldstore.waiting_until(session, tenant, topic, cutoff):
                    why = f"events of {topic} up to the cut-off still wait for a part"
        await deleted_items.verified(session, tenant, verified, why)
    if why is not None:
        log.info("archive.deleted_items_held_back", tenant_id=str(tenant), why=why)
        return None
    return await _request(state, tenant, cutoff, named, now)


async def _request(
    state: ServiceState, tenant: UUID, cutoff: datetime, named: frozenset[Hold], now: datetime
) -> UUID | None:
    """Send the request and record it, in one transaction, unless another run just did."""
    sent = _sent(named)
    async with state.db.transaction(tenant) as session:
        latest = await deleted_items.last(session, tenant, lock=True)
        if not deleted_items_due(latest.older_than, latest.holds, cutoff, named):
            return None
        request_id = uuid7()
        request = PurgeRequested(
            manifest_id=request_id, data_class=DELETED_WORK_ITEMS, older_than=cutoff, holds=sent
        )
        await state.outbox.add(
            session,
            request,
            tenant_id=tenant,
            entity=f"deleted-items:{tenant}",
            event_id=request_id,
        )
        await deleted_items.requested(
            session, tenant, request_id, cutoff, [h.model_dump(mode="json") for h in sent], now
        )
    log.info("archive.deleted_items_requested", tenant_id=str(tenant), older_than=str(cutoff))
    return request_id

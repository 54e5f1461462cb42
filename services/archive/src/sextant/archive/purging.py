"""Asking the owners to purge hot rows, only after verification.

For each archived object not yet handled, in chain order, and each data class its topic's
events stand for: the class's hot period must be over and no legal hold may cover it
(:mod:`sextant.archive.domain.purge`); then the object is re-read and must verify
(present, its SHA-256, count and id range, its manifest entry's own hash), and no event of
its topic at or before its last event may still wait for a part. Only then
``PurgeRequested`` goes out (the class, the object's first..last event time, the holds
that meet that range) and is recorded, in one transaction. The first object of a (topic,
class) that does not pass stops that lane's run: a later request would cover its events
too. The owners answer with ``PurgeDone`` (:mod:`sextant.runtime.purge`), recorded by the
lifecycle handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.coldstore import archive_settings, object_store
from sextant.archive.db import coldstore, holds, policies
from sextant.archive.domain.manifest import ChainedEntry, chain_hash
from sextant.archive.domain.purge import (
    TOPIC_CLASSES,
    ArchivedObject,
    Hold,
    decide,
    expiry,
    meeting,
)
from sextant.archive.domain.retention import DataClass, Periods, effective
from sextant.archive.domain.verify import Unreadable, check_object
from sextant.contracts import uuid7
from sextant.contracts.events.platform import NotificationRaised, PurgeHold, PurgeRequested
from sextant.runtime.app import ServiceState
from sextant.runtime.objectstore import ChecksumMismatch, ObjectNotFound
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

UNVERIFIED = "unverified: "
_NOTICES = UUID("6a1f3c2e-5b0d-4e8a-9c71-2d4f8e6b0a35")  # namespace of the notices' ids


async def raise_unverified(
    state: ServiceState, session: AsyncSession, tenant: UUID, row: ChainedEntry, why: str
) -> None:
    """Tell the tenant's admins an object failed verification. Its id is the object's and
    the reason's, so each run finding the same fault raises one notification, not one a
    run (the gateway keeps a notification id once)."""
    entry = row.entry
    notice = NotificationRaised(
        notification_id=uuid5(_NOTICES, f"{entry.manifest_id}:{why}"),
        severity="error",
        audience=["tenant_admin"],
        title="An archived object failed verification; nothing it holds will be purged",
        body=f"{entry.object_key} (manifest entry {entry.seq}): {why.removeprefix(UNVERIFIED)}."
        " Its hot rows stay until it verifies; `sextant archive verify` lists every finding.",
        link="/v1/archive/manifests",
        raised_by="archive",
    )
    await state.outbox.add(
        session, notice, tenant_id=tenant, entity=f"manifest:{entry.manifest_id}"
    )


@dataclass
class PurgeRun:
    requested: list[UUID] = field(default_factory=list)  # an entry once per class requested
    held_back: list[tuple[int, str]] = field(default_factory=list)  # (seq, why)
    forgotten: int = 0  # archived ids dropped, past the redelivery window
    deleted: int = 0  # objects deleted from the store, past their cold period


async def request_purges(
    state: ServiceState, tenant: UUID, now: datetime | None = None
) -> PurgeRun:
    """One pass over the tenant's archived objects (see the module): per topic and data
    class, in chain order, up to the first object that may not be purged yet."""
    now = now or datetime.now(UTC)
    run = PurgeRun()
    async with state.db.transaction(tenant) as session:
        periods = effective(await policies.chosen(session, tenant))
        in_force = [
            Hold(h.scope_kind, h.scope_id, h.starts_at, h.ends_at)
            for h in await holds.active(session, tenant)
        ]
        candidates = await coldstore.purge_candidates(session, tenant)
        done = await coldstore.requested_classes(session, tenant)
    stopped: set[tuple[str, DataClass | None]] = set()
    unverified: dict[UUID, str | None] = {}  # each object re-read once a run
    for row in candidates:
        entry = row.chained.entry
        classes = TOPIC_CLASSES.get(entry.topic) or (None,)
        for data_class in classes:
            if (entry.topic, data_class) in stopped or data_class in done.get(
                entry.manifest_id, set()
            ):
                continue
            why = await _held_back(
                state, tenant, row.chained, periods, in_force, now, data_class, unverified
            )
            if why is None and data_class is not None:
                why = await _request(state, tenant, row.chained, data_class, in_force, now)
                if why is None:
                    run.requested.append(entry.manifest_id)
                    continue
                if why == _ALREADY:
                    continue
            stopped.add((entry.topic, data_class))
            run.held_back.append((entry.seq, why or "nothing to purge"))
            if why is not None and why.startswith(UNVERIFIED) and data_class == classes[0]:
                async with state.db.transaction(tenant) as session:
                    await raise_unverified(state, session, tenant, row.chained, why)
    run.deleted = await expire_objects(state, tenant, periods, in_force, now)
    keep = timedelta(days=archive_settings(state).archived_ids_days)
    async with state.db.transaction(tenant) as session:
        run.forgotten = await coldstore.forget_archived_ids(session, tenant, now - keep)
    if run.requested:
        log.info("archive.purge_requested", objects=len(run.requested))
    return run


_ALREADY = "another replica's run requested it"


async def _request(
    state: ServiceState,
    tenant: UUID,
    row: ChainedEntry,
    data_class: DataClass,
    in_force: list[Hold],
    now: datetime,
) -> str | None:
    """Send the class's PurgeRequested for the entry and record it, in one transaction;
    why not when it may not go (yet)."""
    entry = row.entry
    target = ArchivedObject(entry.topic, entry.first_at, entry.last_at, frozenset())
    async with state.db.transaction(tenant) as session:
        if await coldstore.waiting_until(session, tenant, entry.topic, entry.last_at):
            return "events of its topic up to its last still wait for a part"
        request_id = uuid7()
        if not await coldstore.mark_class_requested(
            session, tenant, entry.manifest_id, data_class, request_id, now
        ):
            return _ALREADY  # once is enough
        request = PurgeRequested(
            manifest_id=entry.manifest_id,
            data_class=data_class,
            topic=entry.topic,
            not_before=entry.first_at,
            older_than=entry.last_at,
            holds=[
                PurgeHold(
                    scope_kind=h.scope_kind,
                    scope_id=h.scope_id,
                    starts_at=h.starts_at,
                    ends_at=h.ends_at,
                )
                for h in meeting(in_force, target)
            ],
        )
        await state.outbox.add(
            session,
            request,
            tenant_id=tenant,
            entity=f"manifest:{entry.manifest_id}",
            event_id=request_id,
        )
        requested = await coldstore.requested_classes(session, tenant)
        if requested.get(entry.manifest_id, set()) >= set(TOPIC_CLASSES[entry.topic]):
            await coldstore.mark_purge_requested(session, tenant, entry.manifest_id, now)
    return None


async def expire_objects(
    state: ServiceState,
    tenant: UUID,
    periods: Mapping[DataClass, Periods],
    in_force: list[Hold],
    now: datetime,
) -> int:
    """Delete the objects past their cold period that no hold covers; each entry stays
    as a tombstone. The object goes first, then the mark: a crash between the two leaves
    an entry whose object is missing, which the next run deletes (already gone) and marks."""
    async with state.db.transaction(tenant) as session:
        stored = await coldstore.kept_objects(session, tenant)
    deleted = 0
    for row in stored:
        entry = row.chained.entry
        target = ArchivedObject(
            entry.topic, entry.first_at, entry.last_at, frozenset(entry.workspace_ids)
        )
        if not expiry(target, periods, in_force, now).purge:
            continue
        await object_store(state).delete(entry.object_key)
        async with state.db.transaction(tenant) as session:
            await coldstore.mark_deleted(session, tenant, entry.manifest_id, now)
        deleted += 1
    if deleted:
        log.info("archive.objects_expired", tenant_id=str(tenant), objects=deleted)
    return deleted


async def _held_back(
    state: ServiceState,
    tenant: UUID,
    row: ChainedEntry,
    periods: Mapping[DataClass, Periods],
    in_force: list[Hold],
    now: datetime,
    data_class: DataClass | None,
    unverified: dict[UUID, str | None],
) -> str | None:
    """Why the object's hot rows of the class may not be purged yet; None when they may."""
    entry = row.entry
    workspaces = frozenset(entry.workspace_ids)
    target = ArchivedObject(entry.topic, entry.first_at, entry.last_at, workspaces)
    decision = decide(target, periods, in_force, now, data_class)
    if not decision.purge:
        return decision.reason
    if entry.manifest_id not in unverified:
        unverified[entry.manifest_id] = await why_unverified(state, row)
    return unverified[entry.manifest_id]


async def why_unverified(state: ServiceState, row: ChainedEntry) -> str | None:
    """Why the object does not verify (its entry's hash, then the object); None when it does."""
    entry = row.entry
    if chain_hash(row.prev_hash, entry) != row.row_hash:
        return f"{UNVERIFIED}its manifest entry was altered (hash mismatch)"
    fetched: bytes | Unreadable
    try:
        fetched = await object_store(state).get(entry.object_key)
    except ObjectNotFound:
        fetched = Unreadable.MISSING
    except ChecksumMismatch:
        fetched = Unreadable.CORRUPT
    finding = check_object(row, fetched)
    if finding is not None:
        log.warning("archive.purge_unverified", seq=entry.seq, reason=finding.reason)
        return f"{UNVERIFIED}{finding.reason}"
    return None


async def purge_all(state: ServiceState, now: datetime | None = None) -> int:
    """One purge run over every tenant with archived objects (their hot rows, then their
    work items deleted in their tool: :mod:`sextant.archive.deleted_items`), then over the
    soft-deleted tenants and workspaces past their grace period
    (:mod:`sextant.archive.scopes`); how many requests went out. A tenant whose run fails
    (the store down) is logged and left for the next run."""
    from sextant.archive.deleted_items import request_deleted_items  # they build on this
    from sextant.archive.scopes import purge_scopes

    async with state.db.transaction() as session:
        tenants = await coldstore.tenants_with_archives(session)
    requested = 0
    for tenant in tenants:
        try:
            requested += len((await request_purges(state, tenant, now)).requested)
            requested += await request_deleted_items(state, tenant, now) is not None
        except Exception as exc:
            log.warning("archive.purge_run_failed", tenant_id=str(tenant), error=str(exc))
    return requested + len(await purge_scopes(state, now))


async def start(state: ServiceState) -> None:
    """Start the purge run: every ``purge_check_seconds``, over every tenant."""
    every = archive_settings(state).purge_check_seconds

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            await purge_all(state)

    state.extras["archive_purger"] = asyncio.create_task(loop(), name="archive-purger")


async def stop(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("archive_purger"))

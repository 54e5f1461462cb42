"""Purging a soft-deleted tenant or workspace once its grace period is over.

The gateway announces a soft delete (``TenantSoftDeleted``/``WorkspaceSoftDeleted`` with
``restorable_until``) and a restore; the lifecycle handler notes them
(:func:`note`). Each purge run leases the scopes whose grace period is over
(:func:`purge_scopes`) and, for each, asks the owners to delete every row of it — a
``PurgeRequested`` with ``scope`` — only when:

- no legal hold in force stops it (:func:`sextant.archive.domain.purge.scope_hold`);
- no event of the scope still waits for its part (the copy would be incomplete);
- every stored object holding its events verifies (present, SHA-256, count, id range, its
  manifest entry's own hash); one that does not raises the tenant admins' notification,
  as the retention purge does, and nothing is requested.

The request's ``manifest_id`` is the scope purge's id (the soft-delete event's), so the
owners' ``PurgeDone`` answers are recorded against it (``purge_answers``, class
``scope:<kind>``). The gateway, an owner too, marks the tenant or workspace purged.

The archive deletes none of its own rows on a scope purge: it holds the copy the purge
relied on, until its cold period ends, and the record of the purge (:data:`KEPT`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import coldstore, holds, scopes
from sextant.archive.domain.purge import Hold, scope_hold
from sextant.archive.purging import raise_unverified, why_unverified
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import (
    PurgeRequested,
    TenantRestored,
    TenantSoftDeleted,
    WorkspaceRestored,
    WorkspaceSoftDeleted,
)
from sextant.contracts.registry import type_of
from sextant.runtime.app import ServiceState

log = structlog.get_logger()

LEASE = timedelta(minutes=10)

KEPT = {
    "staged_events": "events waiting for their part: a scope is purged only once none waits",
    "archived_ids": "archived events' ids, to know a redelivery: pruned after archived_ids_days",
    "open_partitions": "the flusher's index of partitions with waiting events",
    "manifests": "the cold copy's chain: kept to the end of its cold period, then tombstones",
    "manifest_heads": "the head of the cold copy's chain",
    "retention_policies": "the tenant's periods: they decide when its cold copy ends",
    "legal_holds": "a hold outlives a purge: it keeps the cold copy",
    "archived_tenants": "the tenants with a cold copy: the end of its cold period visits them",
    "purge_requests": "the record of the purges asked of the owners",
    "purge_answers": "the owners' PurgeDone answers: the record that a purge went through",
    "scope_purges": "the record of the tenant's or workspace's scope purge",
    "deleted_item_purges": "the record of the purges of work items deleted in their tool",
    "restores": "the record of the restores made from the cold copy",
}
"""The archive's tables a scope purge leaves, and why."""
_DELETED = {type_of(TenantSoftDeleted): "tenant", type_of(WorkspaceSoftDeleted): "workspace"}
_RESTORED = {type_of(TenantRestored): "tenant", type_of(WorkspaceRestored): "workspace"}


async def note(session: AsyncSession, envelope: Envelope) -> None:
    """Note a soft delete (its grace period) or forget it on a restore; else nothing."""
    kind = _DELETED.get(envelope.type) or _RESTORED.get(envelope.type)
    if kind is None:
        return
    workspace = envelope.workspaceid if kind == "workspace" else None
    if kind == "workspace" and workspace is None:
        log.warning("archive.scope_without_workspace", event_id=str(envelope.id))
        return
    if envelope.type in _DELETED:
        until = TenantSoftDeleted.model_validate(envelope.data).restorable_until
        await scopes.note_deleted(session, envelope.id, envelope.tenantid, kind, workspace, until)
    else:
        await scopes.note_restored(session, envelope.tenantid, kind, workspace)


async def purge_scopes(state: ServiceState, now: datetime | None = None) -> list[UUID]:
    """One pass over the scopes past their grace period: the ids whose purge was requested."""
    now = now or datetime.now(UTC)
    async with state.db.transaction() as session:
        due = await scopes.claim_due(session, now, now + LEASE)
    requested: list[UUID] = []
    for scope in due:
        try:
            why = await _request(state, scope, now)
        except Exception as exc:  # the store down: the lease lapses, the next run tries again
            log.warning("archive.scope_purge_failed", scope_id=str(scope.id), error=str(exc))
            continue
        if why is None:
            requested.append(scope.id)
            continue
        log.info("archive.scope_purge_held_back", scope_id=str(scope.id), why=why)
        async with state.db.transaction(scope.tenant_id) as session:
            await scopes.held_back(session, scope.id, why)
    return requested


async def _request(state: ServiceState, scope: scopes.ScopePurge, now: datetime) -> str | None:
    """Ask for the scope's purge when nothing stops it; why not otherwise."""
    tenant, workspace = scope.tenant_id, scope.workspace_id
    async with state.db.transaction(tenant) as session:
        in_force = [
            Hold(h.scope_kind, h.scope_id, h.starts_at, h.ends_at)
            for h in await holds.active(session, tenant)
        ]
        stored = await coldstore.kept_objects(session, tenant)
        if await scopes.waiting(session, tenant, workspace):
            return "some of its events still wait for a part"
    hold = scope_hold(scope.scope_kind, workspace, in_force)
    if hold is not None:
        named = hold.scope_kind if hold.scope_id is None else f"{hold.scope_kind}:{hold.scope_id}"
        return f"a legal hold on {named} stops it"
    for row in stored:
        entry = row.chained.entry
        if workspace is not None and workspace not in entry.workspace_ids:
            continue
        why = await why_unverified(state, row.chained)
        if why is not None:
            async with state.db.transaction(tenant) as session:
                await raise_unverified(state, session, tenant, row.chained, why)
            return why
    async with state.db.transaction(tenant) as session:
        request_id = uuid7()
        if not await scopes.mark_requested(session, scope.id, request_id, now):
            return "already requested"
        request = PurgeRequested(
            manifest_id=scope.id,
            older_than=now,
            scope="tenant" if workspace is None else "workspace",
            workspace_id=workspace,
        )
        await state.outbox.add(
            session,
            request,
            tenant_id=tenant,
            workspace_id=workspace,
            entity=f"scope:{scope.id}",
            event_id=request_id,
        )
    log.info("archive.scope_purge_requested", tenant_id=str(tenant), scope_id=str(scope.id))
    return None

"""Soft-deleted tenants and workspaces waiting for their scope purge. Functions take the
caller's session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import scope_purges, staged_events


@dataclass(frozen=True)
class ScopePurge:
    id: UUID
    tenant_id: UUID
    scope_kind: str  # tenant, workspace
    workspace_id: UUID | None
    restorable_until: datetime


async def note_deleted(
    session: AsyncSession,
    id: UUID,
    tenant: UUID,
    scope_kind: str,
    workspace: UUID | None,
    restorable_until: datetime,
) -> None:
    """Note a soft delete (once: a redelivered announcement changes nothing)."""
    await session.execute(
        insert(scope_purges)
        .values(
            id=id,
            tenant_id=tenant,
            scope_kind=scope_kind,
            workspace_id=workspace,
            restorable_until=restorable_until,
        )
        .on_conflict_do_nothing()
    )


async def note_restored(
    session: AsyncSession, tenant: UUID, scope_kind: str, workspace: UUID | None
) -> None:
    """Forget the scope's pending purges: it was restored within its grace period."""
    c = scope_purges.c
    await session.execute(
        sa.delete(scope_purges).where(
            c.tenant_id == tenant,
            c.scope_kind == scope_kind,
            c.workspace_id.is_(None) if workspace is None else c.workspace_id == workspace,
            c.requested_at.is_(None),
        )
    )


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime
) -> list[ScopePurge]:
    """Lease the scopes whose grace period is over and whose purge is not requested yet,
    but those another live run holds (across tenants: the purge run's list)."""
    c = scope_purges.c
    due = (
        sa.select(c.id)
        .where(
            c.requested_at.is_(None),
            c.restorable_until <= now,
            sa.or_(c.lease_until.is_(None), c.lease_until < now),
        )
        .order_by(c.restorable_until)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        sa.update(scope_purges)
        .where(c.id.in_(due.scalar_subquery()))
        .values(lease_until=lease_until)
        .returning(c.id, c.tenant_id, c.scope_kind, c.workspace_id, c.restorable_until)
    )
    return sorted((ScopePurge(**r._mapping) for r in rows), key=lambda s: s.restorable_until)


async def held_back(session: AsyncSession, id: UUID, why: str) -> None:
    """Record why the scope's purge did not go out; the lease is let go for the next run."""
    await session.execute(
        sa.update(scope_purges)
        .where(scope_purges.c.id == id)
        .values(held_back=why, lease_until=None)
    )


async def mark_requested(session: AsyncSession, id: UUID, request_id: UUID, at: datetime) -> bool:
    """Record the scope's purge requested; False when it already was."""
    c = scope_purges.c
    result = await session.execute(
        sa.update(scope_purges)
        .where(c.id == id, c.requested_at.is_(None))
        .values(request_id=request_id, requested_at=at, held_back=None, lease_until=None)
        .returning(c.id)
    )
    return result.first() is not None


async def waiting(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> bool:
    """Whether an event of the tenant (of the workspace) still waits for its part (a
    staged event is deleted when its part is written)."""
    c = staged_events.c
    where = [c.tenant_id == tenant]
    if workspace is not None:
        where.append(c.workspace_id == workspace)
    found = await session.scalar(sa.select(sa.literal(True)).where(*where).limit(1))
    return bool(found)

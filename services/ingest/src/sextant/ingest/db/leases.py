"""Leasing from ingest's cross-tenant work queues (check runs to post, commit lists to
read): each row is due at a time and leased to one replica for a while, so replicas share
the work and a crashed one's rows come due again when their lease ends."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


async def claim_due(
    session: AsyncSession, queue: sa.Table, key: str, *, limit: int, lease: timedelta
) -> list[tuple[UUID, UUID]]:
    """Lease up to ``limit`` due rows of ``queue`` of any tenant, oldest due first, rows
    another replica is claiming skipped: (the row's ``key`` column, its tenant)."""
    q = queue
    due = (
        sa.select(q.c[key])
        .where(
            (q.c.due_at <= sa.func.now())
            & sa.or_(q.c.lease_until.is_(None), q.c.lease_until <= sa.func.now())
        )
        .order_by(q.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        sa.update(q)
        .where(q.c[key].in_(due.scalar_subquery()))
        .values(lease_until=sa.func.now() + lease)
        .returning(q.c[key], q.c.tenant_id)
    )
    return [(row[0], row[1]) for row in rows]

"""Leasing from ingest's cross-tenant work queues (check runs to post, commit lists to
read): each row is due at a time and leased to one replica for a while, so replicas share
the work and a crashed one's rows come due again when their lease ends.

A transaction that makes a row due now NOTIFYs the queue's channel (:func:`wake`), so
the workers hear of it at its commit; :func:`seconds_to_next_due` tells them when to look
next otherwise (a retry's time)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.runtime.pgnotify import notify


def channel(queue: sa.Table) -> str:
    """The NOTIFY channel of ``queue``: its workers wake when it is notified."""
    return f"sextant_ingest_{queue.name}"


async def wake(session: AsyncSession, queue: sa.Table) -> None:
    """Wake ``queue``'s workers when the caller's transaction commits (never if it rolls
    back): it made a row due now."""
    await notify(session, channel(queue), "")


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


async def seconds_to_next_due(session: AsyncSession, queue: sa.Table) -> float | None:
    """Seconds until the first row of ``queue`` no replica holds is due (0 or less: due
    already), or None when there is none; by the database's clock, through the queue's
    ``due_at`` index. A lease running out (its replica gone) is left to the fallback."""
    q = queue
    free = sa.or_(q.c.lease_until.is_(None), q.c.lease_until <= sa.func.now())
    first = sa.select(sa.func.min(q.c.due_at)).where(free).scalar_subquery()
    seconds = await session.scalar(sa.select(sa.extract("epoch", first - sa.func.now())))
    return None if seconds is None else float(seconds)

"""Leasing from ingest's cross-tenant work queues (check runs to post, commit lists to
read): each row is due at a time and leased to one replica for a while, so replicas share
the work and a crashed one's rows come due again when their lease ends.

A transaction that makes a row due now NOTIFYs the queue's channel (:func:`wake`), so
the workers hear of it at its commit; :func:`seconds_to_next_due` tells them when to look
next otherwise (a retry's time, a dead replica's lease end)."""

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
    """Seconds until the first row of ``queue`` may be claimed (0 or less: already), or
    None when the queue is empty; by the database's clock. A row may be claimed once it
    is due and its lease, if any, has run out: a retry at its backoff's end, a row whose
    replica died at its lease's end (a live replica's row is done and gone by then)."""
    q = queue
    claimable = sa.func.min(sa.func.greatest(q.c.due_at, q.c.lease_until))
    first = sa.select(claimable).scalar_subquery()
    seconds = await session.scalar(sa.select(sa.extract("epoch", first - sa.func.now())))
    return None if seconds is None else float(seconds)

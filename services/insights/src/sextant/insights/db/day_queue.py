"""The DeveloperMetrics queue: the (developer, day)s projecting batches and identity changes
touched, recomputed after them by one worker (day_worker.py), so no projecting batch holds a
developer's days while it projects and each day is recomputed once per round, not once per
batch.

An append log, a row per key per transaction (keys distinct within it), not one row per
(developer, day) written with ON CONFLICT DO NOTHING: there a batch whose key already waited
would add nothing, and if the worker took that row while the batch's records were still
uncommitted it would recompute the day without them and the change would be lost. Here the
worker deletes exactly the rows it read, and its recompute, a later statement (read
committed), sees every record of the transactions that wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import developer_day_rows, developers, metadata
from sextant.runtime.db import driver_connection
from sextant.runtime.pgnotify import notify

Pair = tuple[UUID, date]  # (developer, UTC day)

CHANNEL = "insights_days"
"""NOTIFY channel a transaction that queued keys wakes the worker on, at its commit."""

metrics_queue = sa.Table(
    "metrics_queue",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("developer_id", sa.Uuid, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    # the day and every later day with a row (a change request's opening, merge or close
    # moves the WIP of every day after it)
    sa.Column("onward", sa.Boolean, nullable=False),
    info={
        "cross_tenant": "the worker finds the tenants with days to recompute, then works as each"
    },
)
sa.Index("metrics_queue_tenant", metrics_queue.c.tenant_id, metrics_queue.c.id)


@dataclass
class Taken:
    """A round's share of one tenant's queue: the rows read and the keys they hold."""

    ids: list[int] = field(default_factory=list)
    days: set[Pair] = field(default_factory=set)
    onward: set[Pair] = field(default_factory=set)


async def note(
    session: AsyncSession, tenant: UUID, days: Iterable[Pair], onward: Iterable[Pair] = ()
) -> list[int]:
    """Queue ``days`` (and the days from each of ``onward``) for the worker, in the caller's
    transaction; the worker is woken at commit. Returns the rows' ids."""
    keys = [(d, day, False) for d, day in sorted(set(days))]
    keys += [(d, day, True) for d, day in sorted(set(onward))]
    if not keys:
        return []
    driver = await driver_connection(session)
    rows = await driver.fetch(
        "INSERT INTO insights.metrics_queue (tenant_id, developer_id, day, onward)"
        " SELECT $1, * FROM unnest($2::uuid[], $3::date[], $4::bool[]) RETURNING id",
        tenant,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    await notify(session, CHANNEL, "")
    return [row["id"] for row in rows]


async def pending_tenants(session: AsyncSession) -> list[UUID]:
    """The tenants with keys waiting (of every tenant: call it outside any tenant)."""
    q = metrics_queue
    return list((await session.execute(sa.select(q.c.tenant_id).distinct())).scalars())


async def days_of(session: AsyncSession, tenant: UUID, ids: Iterable[UUID]) -> set[date]:
    """Every day any of ``ids`` (current ids) has a row or a key waiting, queued under it or
    under an id that reads as it now (a day not recomputed yet has no row), read in one
    statement: a round committing between two reads would hide a day."""
    wanted = list(set(ids))
    q, t, d = metrics_queue, developer_day_rows, developers
    reading_as = sa.select(d.c.developer_id).where(
        d.c.tenant_id == tenant, d.c.current_id.in_(wanted)
    )
    rows = sa.union(
        sa.select(t.c.day).where(t.c.tenant_id == tenant, t.c.developer_id.in_(wanted)),
        sa.select(q.c.day).where(
            q.c.tenant_id == tenant,
            sa.or_(q.c.developer_id.in_(wanted), q.c.developer_id.in_(reading_as)),
        ),
    )
    return set((await session.execute(rows)).scalars())


async def take(session: AsyncSession, tenant: UUID, limit: int) -> Taken:
    """The oldest ``limit`` rows of the tenant's queue (they stay until :func:`forget`)."""
    q = metrics_queue
    rows = await session.execute(
        sa.select(q.c.id, q.c.developer_id, q.c.day, q.c.onward)
        .where(q.c.tenant_id == tenant)
        .order_by(q.c.id)
        .limit(limit)
    )
    taken = Taken()
    for row in rows:
        taken.ids.append(row.id)
        (taken.onward if row.onward else taken.days).add((row.developer_id, row.day))
    return taken


async def forget(session: AsyncSession, ids: list[int]) -> None:
    """Drop the rows a round recomputed (not rows queued since: they wait for the next)."""
    if ids:
        q = metrics_queue
        await session.execute(
            sa.delete(q).where(q.c.id == sa.any_(sa.cast(ids, ARRAY(sa.BigInteger))))
        )


async def waiting(session: AsyncSession) -> int:
    """Rows waiting, of every tenant."""
    count = await session.scalar(sa.select(sa.func.count()).select_from(metrics_queue))
    return int(count or 0)

"""Object-store keys and prefixes queued for deletion in the transaction that frees them (a
tenant's purge, a report's expiry, a render finding its job purged), deleted by the
scheduler's pass once it committed: every statement on them. Functions never commit."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import object_deletions


async def queue(session: AsyncSession, prefixes: Sequence[str]) -> None:
    """Queue every object under each prefix for deletion once this transaction commits (a
    redelivered purge queues nothing twice)."""
    if not prefixes:
        return
    await session.execute(
        pg_insert(object_deletions)
        .values([{"prefix": p, "queued_at": sa.func.now()} for p in prefixes])
        .on_conflict_do_nothing(index_elements=["prefix"])
    )


async def pending(session: AsyncSession, limit: int) -> list[str]:
    """The oldest queued prefixes, locked for this transaction (another pass skips them)."""
    return list(
        await session.scalars(
            sa.select(object_deletions.c.prefix)
            .order_by(object_deletions.c.queued_at, object_deletions.c.prefix)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def done(session: AsyncSession, prefix: str) -> None:
    """The prefix's objects are gone: take it off the queue."""
    await session.execute(sa.delete(object_deletions).where(object_deletions.c.prefix == prefix))

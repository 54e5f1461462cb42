"""Restores (table `restores`): their rows, the objects a restore covers, the worker's lease."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import manifests, restores
from sextant.archive.db.coldstore import _chained
from sextant.archive.domain.manifest import ChainedEntry


@dataclass(frozen=True)
class Restore:
    id: UUID
    tenant_id: UUID
    topics: list[str]
    since: datetime
    until: datetime
    workspace_id: UUID | None
    status: str
    objects_total: int | None
    objects_done: int
    events_published: int
    after_seq: int
    failure: str | None
    requested_by: str
    created_at: datetime
    finished_at: datetime | None


def _restore(r: Any) -> Restore:
    return Restore(**{name: getattr(r, name) for name in Restore.__dataclass_fields__})


async def create(session: AsyncSession, restore: Restore) -> None:
    values = {name: getattr(restore, name) for name in Restore.__dataclass_fields__}
    await session.execute(sa.insert(restores).values(**values))


async def get(session: AsyncSession, tenant: UUID, restore_id: UUID) -> Restore | None:
    row = (
        await session.execute(
            sa.select(restores).where(restores.c.tenant_id == tenant, restores.c.id == restore_id)
        )
    ).first()
    return None if row is None else _restore(row)


async def lease_next(session: AsyncSession, now: datetime, until: datetime) -> Restore | None:
    """Take the oldest open restore no live worker holds (across tenants), leased until
    ``until``; None when there is none."""
    row = (
        await session.execute(
            sa.select(restores)
            .where(
                restores.c.status.in_(("pending", "running")),
                sa.or_(restores.c.lease_until.is_(None), restores.c.lease_until < now),
            )
            .order_by(restores.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).first()
    if row is None:
        return None
    await session.execute(
        sa.update(restores)
        .where(restores.c.id == row.id)
        .values(status="running", lease_until=until)
    )
    return _restore(row)


async def covered(session: AsyncSession, restore: Restore) -> list[ChainedEntry]:
    """The restore's objects not yet published, in chain order: of its topics, their
    events' time range meeting [since, until)."""
    m = manifests
    rows = await session.execute(
        sa.select(m)
        .where(
            m.c.tenant_id == restore.tenant_id,
            m.c.topic == sa.any_(sa.literal(restore.topics, type_=restores.c.topics.type)),
            m.c.first_at < restore.until,
            m.c.last_at >= restore.since,
            m.c.seq > restore.after_seq,
            m.c.deleted_at.is_(None),  # past its cold period: nothing left to restore
        )
        .order_by(m.c.seq)
    )
    return [_chained(r) for r in rows]


async def update(session: AsyncSession, restore_id: UUID, **values: Any) -> None:
    await session.execute(sa.update(restores).where(restores.c.id == restore_id).values(**values))


async def progress(
    session: AsyncSession, restore_id: UUID, seq: int, published: int, lease_until: datetime
) -> None:
    """One more object published: its seq, its events; the lease renewed."""
    await session.execute(
        sa.update(restores)
        .where(restores.c.id == restore_id)
        .values(
            after_seq=seq,
            objects_done=restores.c.objects_done + 1,
            events_published=restores.c.events_published + published,
            lease_until=lease_until,
        )
    )

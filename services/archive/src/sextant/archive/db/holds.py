"""Legal holds' repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import legal_holds


@dataclass(frozen=True)
class Hold:
    id: UUID
    tenant_id: UUID
    scope_kind: str
    scope_id: UUID | None
    starts_at: datetime | None
    ends_at: datetime | None
    reason: str
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None


_COLUMNS = [legal_holds.c[name] for name in Hold.__dataclass_fields__]


async def place(session: AsyncSession, hold: Hold) -> None:
    await session.execute(sa.insert(legal_holds).values(**hold.__dict__))


async def get(
    session: AsyncSession, tenant: UUID, hold_id: UUID, *, lock: bool = False
) -> Hold | None:
    query = sa.select(*_COLUMNS).where(
        legal_holds.c.tenant_id == tenant, legal_holds.c.id == hold_id
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return None if row is None else Hold(**row._mapping)


async def release(
    session: AsyncSession, tenant: UUID, hold_id: UUID, at: datetime, by: str, reason: str | None
) -> None:
    await session.execute(
        sa.update(legal_holds)
        .where(legal_holds.c.tenant_id == tenant, legal_holds.c.id == hold_id)
        .values(released_at=at, released_by=by, release_reason=reason)
    )


async def list_holds(
    session: AsyncSession, tenant: UUID, *, active: bool | None, after: UUID | None, limit: int
) -> list[Hold]:
    """A page of the tenant's holds, oldest first."""
    query = sa.select(*_COLUMNS).where(legal_holds.c.tenant_id == tenant)
    if active is True:
        query = query.where(legal_holds.c.released_at.is_(None))
    elif active is False:
        query = query.where(legal_holds.c.released_at.is_not(None))
    if after is not None:
        query = query.where(legal_holds.c.id > after)
    rows = await session.execute(query.order_by(legal_holds.c.id).limit(limit))
    return [Hold(**r._mapping) for r in rows]


async def active(session: AsyncSession, tenant: UUID) -> list[Hold]:
    """Every hold in force in the tenant."""
    rows = await session.execute(
        sa.select(*_COLUMNS).where(
            legal_holds.c.tenant_id == tenant, legal_holds.c.released_at.is_(None)
        )
    )
    return [Hold(**r._mapping) for r in rows]

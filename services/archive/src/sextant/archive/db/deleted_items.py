"""A tenant's purge of work items deleted in their tool: how far the work items' topics
verified and the last request. Functions take the caller's session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import deleted_item_purges
from sextant.archive.domain.purge import Hold


@dataclass(frozen=True)
class DeletedItemPurge:
    verified_seq: int
    older_than: datetime | None
    holds: frozenset[Hold]


def _holds(stored: list[dict[str, Any]] | None) -> frozenset[Hold]:
    return frozenset(
        Hold(
            h["scope_kind"],
            UUID(h["scope_id"]) if h["scope_id"] else None,
            datetime.fromisoformat(h["starts_at"]) if h["starts_at"] else None,
            datetime.fromisoformat(h["ends_at"]) if h["ends_at"] else None,
        )
        for h in stored or []
    )


async def last(session: AsyncSession, tenant: UUID, *, lock: bool = False) -> DeletedItemPurge:
    """The tenant's state (nothing verified, nothing asked before its first run); ``lock``
    takes its row, so two runs never ask for the same cut-off twice."""
    await session.execute(
        insert(deleted_item_purges).values(tenant_id=tenant).on_conflict_do_nothing()
    )
    c = deleted_item_purges.c
    query = sa.select(c.verified_seq, c.older_than, c.holds).where(c.tenant_id == tenant)
    row = (await session.execute(query.with_for_update() if lock else query)).one()
    return DeletedItemPurge(row.verified_seq, row.older_than, _holds(row.holds))


async def verified(session: AsyncSession, tenant: UUID, seq: int, held_back: str | None) -> None:
    """Record the objects verified up to ``seq`` (and why nothing was asked, if so)."""
    c = deleted_item_purges.c
    await session.execute(
        sa.update(deleted_item_purges)
        .where(c.tenant_id == tenant)
        .values(verified_seq=sa.func.greatest(c.verified_seq, seq), held_back=held_back)
    )


async def requested(
    session: AsyncSession,
    tenant: UUID,
    request_id: UUID,
    older_than: datetime,
    holds: list[dict[str, Any]],
    at: datetime,
) -> None:
    """Record the request sent (its cut-off and holds as sent)."""
    await session.execute(
        sa.update(deleted_item_purges)
        .where(deleted_item_purges.c.tenant_id == tenant)
        .values(
            request_id=request_id,
            older_than=older_than,
            holds=holds,
            requested_at=at,
            held_back=None,
        )
    )

"""Reads and writes of the commit lists fetched for merges webhooks brought, and their
queue; plain values in and out, never a commit. The queue's reads (db/leases.py) are the
only cross-tenant ones. (The rows are created, and the listers woken, with their delivery:
repository.store_deliveries.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.ingest.db import commit_list_queue, commit_lists, leases


@dataclass(frozen=True)
class CommitListRow:
    tenant_id: UUID
    id: UUID
    source_id: UUID
    delivery_id: UUID
    repository: str
    number: int
    status: str  # pending | listed | failed
    attempts: int
    commit_shas: list[str]
    next_page: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta
) -> list[tuple[UUID, UUID]]:
    """Lease up to ``limit`` due commit lists of any tenant: (commit list, tenant)."""
    return await leases.claim_due(
        session, commit_list_queue, "commit_list_id", limit=limit, lease=lease
    )


async def get_commit_list(session: AsyncSession, commit_list_id: UUID) -> CommitListRow | None:
    c = commit_lists
    row = (await session.execute(sa.select(c).where(c.c.id == commit_list_id))).mappings().first()
    return CommitListRow(**row) if row else None


async def save_page(
    session: AsyncSession, commit_list_id: UUID, shas: list[str], next_page: str | None
) -> None:
    """The checkpoint after a page: the SHAs read so far and the page that follows."""
    c = commit_lists
    await session.execute(
        sa.update(c)
        .where(c.c.id == commit_list_id)
        .values(commit_shas=shas, next_page=next_page, updated_at=sa.func.now())
    )


async def finish(
    session: AsyncSession, commit_list_id: UUID, *, status: str, error: str | None
) -> None:
    """The list is done (``listed``) or given up (``failed``, with why): off the queue."""
    c = commit_lists
    await session.execute(
        sa.update(c)
        .where(c.c.id == commit_list_id)
        .values(
            status=status,
            attempts=c.c.attempts + 1,
            last_error=error,
            updated_at=sa.func.now(),
            finished_at=sa.func.now(),
        )
    )
    q = commit_list_queue
    await session.execute(sa.delete(q).where(q.c.commit_list_id == commit_list_id))


async def retry_at(
    session: AsyncSession, commit_list_id: UUID, error: str, due_at: datetime
) -> None:
    """One more failed try, the reason kept; due again at ``due_at``."""
    c, q = commit_lists, commit_list_queue
    await session.execute(
        sa.update(c)
        .where(c.c.id == commit_list_id)
        .values(attempts=c.c.attempts + 1, last_error=error, updated_at=sa.func.now())
    )
    await session.execute(
        sa.update(q)
        .where(q.c.commit_list_id == commit_list_id)
        .values(due_at=due_at, lease_until=None)
    )

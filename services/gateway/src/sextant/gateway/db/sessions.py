"""Reads and writes of ``browser_sessions``: plain values in and out, never a commit.

Only the cookie's SHA-256 is stored (the cookie holds 256 random bits, so a fast hash
leaves a stolen table nothing to use)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.gateway.db import browser_sessions


@dataclass(frozen=True)
class BrowserSessionRow:
    id_sha256: bytes
    subject: str
    role: str
    tenant_id: UUID | None
    link_jti: str | None
    link_expires_at: datetime | None
    created_at: datetime
    expires_at: datetime


async def create_session(session: AsyncSession, row: BrowserSessionRow) -> bool:
    """Store a new session; False when its sign-in link was spent already."""
    inserted = await session.execute(
        insert(browser_sessions)
        .values(**row.__dict__)
        .on_conflict_do_nothing(index_elements=[browser_sessions.c.link_jti])
        .returning(browser_sessions.c.id_sha256)
    )
    return inserted.first() is not None


async def live_session(
    session: AsyncSession, id_sha256: bytes, now: datetime
) -> BrowserSessionRow | None:
    s = browser_sessions
    row = (
        await session.execute(
            sa.select(s).where((s.c.id_sha256 == id_sha256) & (s.c.expires_at > now))
        )
    ).first()
    return BrowserSessionRow(**row._mapping) if row else None


async def end_session(session: AsyncSession, id_sha256: bytes, now: datetime) -> None:
    """Sign-out: the session expires now (its row stays while its link could be used)."""
    s = browser_sessions
    await session.execute(sa.update(s).where(s.c.id_sha256 == id_sha256).values(expires_at=now))


async def forget_expired(session: AsyncSession, now: datetime) -> None:
    """Drop the rows whose session and sign-in link have both expired."""
    s = browser_sessions
    await session.execute(
        sa.delete(s).where(
            (s.c.expires_at <= now) & (s.c.link_expires_at.is_(None) | (s.c.link_expires_at <= now))
        )
    )

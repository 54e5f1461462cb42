"""Roll-up grants: every statement on them. Functions never commit; each runs in the
granting tenant's transaction (row-level security)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import rollup_grants


async def create(
    session: AsyncSession,
    grant_id: UUID,
    tenant_id: UUID,
    grantee: UUID,
    granted_by: str,
    now: datetime,
) -> sa.Row[Any] | None:
    """Store a grant; None when the tenant already granted ``grantee``."""
    stored = await session.execute(
        insert(rollup_grants)
        .values(
            id=grant_id,
            tenant_id=tenant_id,
            grantee_tenant_id=grantee,
            granted_by=granted_by,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "grantee_tenant_id"])
        .returning(*rollup_grants.c)
    )
    return stored.one_or_none()


async def page(
    session: AsyncSession, tenant_id: UUID, after: UUID | None, limit: int
) -> list[sa.Row[Any]]:
    """A tenant's grants by id (oldest first: ids are UUIDv7), after ``after``."""
    query = sa.select(rollup_grants).where(rollup_grants.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(rollup_grants.c.id > after)
    return list((await session.execute(query.order_by(rollup_grants.c.id).limit(limit))).all())


async def delete(session: AsyncSession, tenant_id: UUID, grant_id: UUID) -> sa.Row[Any] | None:
    """Revoke a grant; the revoked grant, or None when the tenant has no such grant."""
    return (
        await session.execute(
            sa.delete(rollup_grants)
            .where(rollup_grants.c.tenant_id == tenant_id, rollup_grants.c.id == grant_id)
            .returning(*rollup_grants.c)
        )
    ).one_or_none()


async def granted(session: AsyncSession, tenant_id: UUID, grantee: UUID) -> bool:
    """Whether ``tenant_id`` grants ``grantee`` its roll-up metrics (in its transaction)."""
    found = await session.execute(
        sa.select(rollup_grants.c.id).where(
            rollup_grants.c.tenant_id == tenant_id,
            rollup_grants.c.grantee_tenant_id == grantee,
        )
    )
    return found.first() is not None

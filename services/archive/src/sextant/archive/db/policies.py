"""Retention policies' repository: a tenant's chosen periods per data class."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import retention_policies
from sextant.archive.domain.retention import DataClass, Periods


async def chosen(session: AsyncSession, tenant: UUID) -> dict[DataClass, Periods]:
    """The periods the tenant chose (classes it never changed are absent)."""
    rows = await session.execute(
        sa.select(
            retention_policies.c.data_class,
            retention_policies.c.hot_days,
            retention_policies.c.cold_days,
        ).where(retention_policies.c.tenant_id == tenant)
    )
    return {cast(DataClass, r.data_class): Periods(r.hot_days, r.cold_days) for r in rows}


async def lock(session: AsyncSession, tenant: UUID) -> None:
    """Serialize a tenant's policy changes (each audit's ``before`` is then exact)."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k, hashtext(:t))"),
        {"k": 0x52455445, "t": str(tenant)},  # "RETE"
    )


async def choose(
    session: AsyncSession,
    tenant: UUID,
    data_class: DataClass,
    periods: Periods,
    at: datetime,
    by: str,
) -> None:
    upsert = insert(retention_policies).values(
        tenant_id=tenant,
        data_class=data_class,
        hot_days=periods.hot_days,
        cold_days=periods.cold_days,
        updated_at=at,
        updated_by=by,
    )
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[retention_policies.c.tenant_id, retention_policies.c.data_class],
            set_={
                "hot_days": periods.hot_days,
                "cold_days": periods.cold_days,
                "updated_at": at,
                "updated_by": by,
            },
        )
    )


async def last_changes(
    session: AsyncSession, tenant: UUID
) -> dict[DataClass, tuple[datetime, str]]:
    """When and by whom each chosen class was last changed."""
    rows = await session.execute(
        sa.select(
            retention_policies.c.data_class,
            retention_policies.c.updated_at,
            retention_policies.c.updated_by,
        ).where(retention_policies.c.tenant_id == tenant)
    )
    return {cast(DataClass, r.data_class): (r.updated_at, r.updated_by) for r in rows}

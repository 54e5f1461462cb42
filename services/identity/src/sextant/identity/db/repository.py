"""Reads and writes of identity's tables, in a session already scoped to the tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.common import Actor
from sextant.identity.db import alias_keys, aliases, developers
from sextant.identity.domain.keys import Key


@dataclass(frozen=True)
class DeveloperRow:
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    created_at: datetime


@dataclass(frozen=True)
class AliasRow:
    id: UUID
    developer_id: UUID
    kind: str
    account_id: str | None
    login: str | None
    email: str | None
    display_name: str | None
    is_bot: bool
    keys: list[tuple[str, float, str]]


async def lock_tenant_resolution(session: AsyncSession, tenant_id: UUID) -> None:
    """Hold the tenant's resolution lock until this transaction ends."""
    await session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"identity:{tenant_id}", 0))
        )
    )


async def developer_of_alias(session: AsyncSession, fingerprint: str) -> UUID | None:
    found: UUID | None = await session.scalar(
        sa.select(aliases.c.developer_id).where(aliases.c.fingerprint == fingerprint)
    )
    return found


async def developers_with_keys(session: AsyncSession, keys: list[str]) -> list[DeveloperRow]:
    """The (live) developers owning any of ``keys``, oldest first."""
    if not keys:
        return []
    owning = (
        sa.select(aliases.c.developer_id)
        .join(alias_keys, alias_keys.c.alias_id == aliases.c.id)
        .where(alias_keys.c.key.in_(keys))
    )
    rows = await session.execute(
        sa.select(developers)
        .where(developers.c.id.in_(owning), developers.c.merged_into.is_(None))
        .order_by(developers.c.created_at, developers.c.id)
    )
    return [_developer(r) for r in rows.mappings()]


async def add_developer(session: AsyncSession, tenant_id: UUID, row: DeveloperRow) -> None:
    await session.execute(
        developers.insert().values(
            tenant_id=tenant_id,
            id=row.id,
            display_name=row.display_name,
            is_bot=row.is_bot,
            locked=row.locked,
            created_at=row.created_at,
        )
    )


async def merge_into(session: AsyncSession, survivor: UUID, merged: list[UUID]) -> None:
    await session.execute(
        aliases.update().where(aliases.c.developer_id.in_(merged)).values(developer_id=survivor)
    )
    await session.execute(
        developers.update().where(developers.c.id.in_(merged)).values(merged_into=survivor)
    )


async def add_alias(
    session: AsyncSession,
    tenant_id: UUID,
    alias_id: UUID,
    developer_id: UUID,
    fingerprint: str,
    actor: Actor,
    keys: list[Key],
    seen_at: datetime,
) -> bool:
    """Store an alias and its keys; False when another transaction stored it first."""
    stored = await session.scalar(
        insert(aliases)
        .values(
            tenant_id=tenant_id,
            id=alias_id,
            developer_id=developer_id,
            fingerprint=fingerprint,
            kind=actor.kind,
            account_id=actor.account_id,
            login=actor.login,
            email=actor.email,
            display_name=actor.display_name,
            is_bot=actor.is_bot,
            first_seen_at=seen_at,
        )
        .on_conflict_do_nothing(constraint="aliases_once")
        .returning(aliases.c.id)
    )
    if stored is None:
        return False
    if keys:
        await session.execute(
            insert(alias_keys)
            .values(
                [
                    {
                        "tenant_id": tenant_id,
                        "key": k.value,
                        "alias_id": alias_id,
                        "score": k.score,
                        "rule": k.rule,
                    }
                    for k in keys
                ]
            )
            .on_conflict_do_nothing()
        )
    return True


async def list_developers(
    session: AsyncSession, search: str | None, include_bots: bool, limit: int
) -> list[tuple[DeveloperRow, int]]:
    counts = (
        sa.select(aliases.c.developer_id, sa.func.count().label("n"))
        .group_by(aliases.c.developer_id)
        .subquery()
    )
    query = (
        sa.select(developers, sa.func.coalesce(counts.c.n, 0).label("alias_count"))
        .outerjoin(counts, counts.c.developer_id == developers.c.id)
        .where(developers.c.merged_into.is_(None))
        .order_by(developers.c.display_name, developers.c.id)
        .limit(limit)
    )
    if not include_bots:
        query = query.where(developers.c.is_bot.is_(False))
    if search:
        like = f"%{search.lower()}%"
        matching = sa.select(aliases.c.developer_id).where(
            sa.or_(
                sa.func.lower(aliases.c.display_name).like(like),
                sa.func.lower(aliases.c.email).like(like),
                sa.func.lower(aliases.c.login).like(like),
            )
        )
        query = query.where(developers.c.id.in_(matching))
    rows = await session.execute(query)
    return [(_developer(r), int(r["alias_count"])) for r in rows.mappings()]


async def get_developer(
    session: AsyncSession, developer_id: UUID
) -> tuple[DeveloperRow, UUID | None] | None:
    row = (
        (await session.execute(sa.select(developers).where(developers.c.id == developer_id)))
        .mappings()
        .first()
    )
    return (_developer(row), row["merged_into"]) if row else None


async def aliases_of(session: AsyncSession, developer_id: UUID) -> list[AliasRow]:
    rows = (
        (
            await session.execute(
                sa.select(aliases)
                .where(aliases.c.developer_id == developer_id)
                .order_by(aliases.c.first_seen_at)
            )
        )
        .mappings()
        .all()
    )
    keys: dict[UUID, list[tuple[str, float, str]]] = {r["id"]: [] for r in rows}
    if rows:
        for k in await session.execute(
            sa.select(alias_keys)
            .where(alias_keys.c.alias_id.in_(list(keys)))
            .order_by(alias_keys.c.key)
        ):
            keys[k.alias_id].append((k.key, k.score, k.rule))
    return [
        AliasRow(
            id=r["id"],
            developer_id=r["developer_id"],
            kind=r["kind"],
            account_id=r["account_id"],
            login=r["login"],
            email=r["email"],
            display_name=r["display_name"],
            is_bot=r["is_bot"],
            keys=keys[r["id"]],
        )
        for r in rows
    ]


def _developer(row: sa.RowMapping) -> DeveloperRow:
    return DeveloperRow(
        id=row["id"],
        display_name=row["display_name"],
        is_bot=row["is_bot"],
        locked=row["locked"],
        created_at=row["created_at"],
    )

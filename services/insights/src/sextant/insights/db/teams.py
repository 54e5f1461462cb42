"""Teams, dated memberships and user links as identity announces them, and the reads of the
team scope and of who may see what; callers own the transaction.

A membership names the developer it was given to and reads as whoever that developer reads
as now (the local alias map, as every record does): a merge takes the merged developer's
memberships to the survivor, a split that revives a developer gives them back, a split into
a new developer leaves them with the one split from. A user link follows the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import (
    developer_day_rows,
    developers,
    team_memberships,
    team_rows,
    user_links,
)
from sextant.insights.db.developer_days import FIELDS, figures_of
from sextant.insights.domain.teams import MemberDay

# writes ----------------------------------------------------------------------------------


async def remember_team(
    session: AsyncSession, tenant: UUID, team_id: UUID, name: str | None
) -> None:
    """A team exists (its name when known: a membership may arrive before its creation)."""
    statement = insert(team_rows).values(tenant_id=tenant, id=team_id, name=name)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[team_rows.c.tenant_id, team_rows.c.id],
            set_={"name": sa.func.coalesce(statement.excluded.name, team_rows.c.name)},
        )
    )


async def delete_team(session: AsyncSession, tenant: UUID, team_id: UUID, at: datetime) -> None:
    """Soft delete: the scope answers 410; a redelivery keeps the first time."""
    statement = insert(team_rows).values(tenant_id=tenant, id=team_id, deleted_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[team_rows.c.tenant_id, team_rows.c.id],
            set_={
                "deleted_at": sa.func.coalesce(
                    team_rows.c.deleted_at, statement.excluded.deleted_at
                )
            },
        )
    )


async def record_membership(
    session: AsyncSession,
    tenant: UUID,
    membership_id: UUID,
    team_id: UUID,
    developer_id: UUID,
    starts_on: date,
    ends_on: date | None,
    removed: bool,
) -> None:
    """The membership as it stands now (keyed by its id, so a redelivery changes nothing)."""
    await remember_team(session, tenant, team_id, None)
    m = team_memberships
    if removed:
        await session.execute(sa.delete(m).where(m.c.tenant_id == tenant, m.c.id == membership_id))
        return
    values = {
        "team_id": team_id,
        "developer_id": developer_id,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }
    statement = insert(m).values(tenant_id=tenant, id=membership_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[m.c.tenant_id, m.c.id], set_=values)
    )


async def link_user(
    session: AsyncSession,
    tenant: UUID,
    developer_id: UUID,
    user_id: str | None,
    previous_user_id: str | None,
) -> None:
    """``user_id`` is ``developer_id`` now (None: nobody is). As in identity, a user is one
    developer and a developer one user, so the developer's earlier link and the user's end."""
    u = user_links
    ended = [i for i in (previous_user_id, user_id) if i is not None]
    await session.execute(
        sa.delete(u).where(
            u.c.tenant_id == tenant,
            sa.or_(u.c.developer_id == developer_id, u.c.user_id.in_(ended)),
        )
    )
    if user_id is not None:
        await session.execute(
            insert(u).values(tenant_id=tenant, user_id=user_id, developer_id=developer_id)
        )


# reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    id: UUID
    name: str | None
    deleted: bool


async def get_team(session: AsyncSession, tenant: UUID, team_id: UUID) -> Team | None:
    row = (
        await session.execute(
            sa.select(team_rows.c.name, team_rows.c.deleted_at).where(
                team_rows.c.tenant_id == tenant, team_rows.c.id == team_id
            )
        )
    ).first()
    return None if row is None else Team(team_id, row.name, row.deleted_at is not None)


def reads_as(tenant: UUID, column: sa.ColumnElement[UUID]) -> sa.ColumnElement[UUID]:
    """The id ``column`` (a developer id) reads as now: its survivor, else itself."""
    d = developers.alias("reads_as")
    survivor = (
        sa.select(d.c.current_id)
        .where(d.c.tenant_id == tenant, d.c.developer_id == column)
        .scalar_subquery()
    )
    return sa.func.coalesce(survivor, column)


def utc_day_of(moment: sa.ColumnElement[datetime]) -> sa.ColumnElement[date]:
    """The UTC day of a timestamp column."""
    return sa.cast(sa.func.timezone("UTC", moment), sa.Date)


def in_team_on(
    tenant: UUID, team_id: UUID, developer_now: sa.ColumnElement[UUID], day: sa.ColumnElement[date]
) -> sa.ColumnElement[bool]:
    """Whether ``developer_now`` (an id as it reads now) was in the team on ``day``: one of
    the team's memberships covers the day (``starts_on`` to ``ends_on``, both included) and
    names that developer or one merged into them."""
    m = team_memberships
    return sa.exists().where(
        m.c.tenant_id == tenant,
        m.c.team_id == team_id,
        reads_as(tenant, m.c.developer_id) == developer_now,
        m.c.starts_on <= day,
        sa.or_(m.c.ends_on.is_(None), m.c.ends_on >= day),
    )


async def member_days(
    session: AsyncSession,
    tenant: UUID,
    team_id: UUID,
    since: date,
    until: date,
    include_bots: bool,
) -> list[MemberDay]:
    """The DeveloperMetrics rows over [since, until) of the developers who were in the team
    on each row's day (a membership covers ``starts_on`` to ``ends_on``, both included)."""
    t = developer_day_rows
    in_team = in_team_on(tenant, team_id, t.c.developer_id, t.c.day)
    query = (
        sa.select(t.c.developer_id, t.c.day, *(t.c[name] for name in FIELDS))
        .where(t.c.tenant_id == tenant, t.c.day >= since, t.c.day < until, in_team)
        .order_by(t.c.day, t.c.developer_id)
    )
    if not include_bots:
        b = developers
        query = query.where(
            ~sa.exists().where(
                b.c.tenant_id == tenant, b.c.developer_id == t.c.developer_id, b.c.is_bot
            )
        )
    rows = await session.execute(query)
    return [MemberDay(r.developer_id, r.day, figures_of(r._mapping)) for r in rows]


async def members_on(session: AsyncSession, tenant: UUID, team_id: UUID, day: date) -> set[UUID]:
    """The developers (as they read now) one of the team's memberships covers on ``day``."""
    m = team_memberships
    rows = await session.scalars(
        sa.select(reads_as(tenant, m.c.developer_id)).where(
            m.c.tenant_id == tenant,
            m.c.team_id == team_id,
            m.c.starts_on <= day,
            sa.or_(m.c.ends_on.is_(None), m.c.ends_on >= day),
        )
    )
    return set(rows)


async def linked_developer(session: AsyncSession, tenant: UUID, user_id: str) -> UUID | None:
    """The developer linked to ``user_id``, as it reads now; None when not linked."""
    u = user_links
    return await session.scalar(
        sa.select(reads_as(tenant, u.c.developer_id)).where(
            u.c.tenant_id == tenant, u.c.user_id == user_id
        )
    )


async def teams_of(session: AsyncSession, tenant: UUID, developer_ids: Iterable[UUID]) -> set[UUID]:
    """The teams any of ``developer_ids`` (ids as they read now) was ever a member of."""
    wanted = list(set(developer_ids))
    if not wanted:
        return set()
    m = team_memberships
    rows = await session.scalars(
        sa.select(m.c.team_id)
        .where(m.c.tenant_id == tenant, reads_as(tenant, m.c.developer_id).in_(wanted))
        .distinct()
    )
    return set(rows)

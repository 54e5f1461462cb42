"""Report schedules and the clock that says when each runs next: every statement on them.
Functions never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import report_schedules, schedule_clock
from sextant.runtime.purge import emptied_without, without_workspace

COLUMNS = [*report_schedules.c, schedule_clock.c.next_run_at]
JOINED = report_schedules.outerjoin(  # a paused schedule is off the clock
    schedule_clock, schedule_clock.c.schedule_id == report_schedules.c.id
)


@dataclass(frozen=True)
class NewSchedule:
    id: UUID
    tenant_id: UUID
    kind: str
    format: str
    scope: str
    scope_workspaces: list[UUID]
    every: str
    day: int
    at: time
    time_zone: str
    notify: list[str]
    created_by: str
    creator_role: str


async def create(
    session: AsyncSession, new: NewSchedule, now: datetime, next_run_at: datetime
) -> sa.Row[Any]:
    """Store a schedule and its first run on the clock."""
    await session.execute(sa.insert(report_schedules).values(**new.__dict__, created_at=now))
    await _start_clock(session, new.tenant_id, new.id, next_run_at)
    return await _written(session, new.tenant_id, new.id)


async def _start_clock(
    session: AsyncSession, tenant_id: UUID, schedule_id: UUID, next_run_at: datetime
) -> None:
    await session.execute(
        sa.insert(schedule_clock).values(
            schedule_id=schedule_id, tenant_id=tenant_id, next_run_at=next_run_at
        )
    )


async def _written(session: AsyncSession, tenant_id: UUID, schedule_id: UUID) -> sa.Row[Any]:
    """A schedule this transaction wrote, as it is now."""
    row = await get(session, tenant_id, schedule_id)
    assert row is not None  # written in this transaction
    return row


async def get(
    session: AsyncSession, tenant_id: UUID, schedule_id: UUID, *, for_update: bool = False
) -> sa.Row[Any] | None:
    """A schedule with its next run; ``for_update`` locks the schedule's row (not its clock:
    a paused one has none) until the transaction ends."""
    query = (
        sa.select(*COLUMNS)
        .select_from(JOINED)
        .where(report_schedules.c.tenant_id == tenant_id, report_schedules.c.id == schedule_id)
    )
    if for_update:
        query = query.with_for_update(of=report_schedules)
    return (await session.execute(query)).one_or_none()


async def rescope(
    session: AsyncSession,
    tenant_id: UUID,
    schedule_id: UUID,
    scope: str,
    workspaces: list[UUID],
    resume_at: datetime | None,
) -> sa.Row[Any]:
    """Give a schedule (locked by the caller: :func:`get` ``for_update``) a new scope and
    list of workspaces, unpaused; ``resume_at`` puts a paused one back on the clock (one
    that was running keeps its entry). The schedule as it is now."""
    await session.execute(
        sa.update(report_schedules)
        .where(report_schedules.c.tenant_id == tenant_id, report_schedules.c.id == schedule_id)
        .values(scope=scope, scope_workspaces=workspaces, paused_at=None)
    )
    if resume_at is not None:
        await _start_clock(session, tenant_id, schedule_id, resume_at)
    return await _written(session, tenant_id, schedule_id)


async def page(
    session: AsyncSession, tenant_id: UUID, after: UUID | None, limit: int
) -> list[sa.Row[Any]]:
    """A tenant's schedules by id (oldest first: ids are UUIDv7), after ``after``."""
    query = sa.select(*COLUMNS).select_from(JOINED).where(report_schedules.c.tenant_id == tenant_id)
    if after is not None:
        query = query.where(report_schedules.c.id > after)
    return list((await session.execute(query.order_by(report_schedules.c.id).limit(limit))).all())


async def delete(session: AsyncSession, tenant_id: UUID, schedule_id: UUID) -> sa.Row[Any] | None:
    """Remove a schedule and its clock; the deleted schedule, or None when the tenant has no
    such schedule. Reports it already produced stay."""
    row = await get(session, tenant_id, schedule_id)
    if row is None:
        return None
    await session.execute(
        sa.delete(schedule_clock).where(
            schedule_clock.c.schedule_id == schedule_id, schedule_clock.c.tenant_id == tenant_id
        )
    )
    await session.execute(
        sa.delete(report_schedules).where(
            report_schedules.c.tenant_id == tenant_id, report_schedules.c.id == schedule_id
        )
    )
    return row


async def due(session: AsyncSession, now: datetime, limit: int) -> list[sa.Row[Any]]:
    """Clock entries of any tenant due at ``now``, locked for this transaction (another
    scheduler skips them): (schedule_id, tenant_id, next_run_at)."""
    return list(
        (
            await session.execute(
                sa.select(schedule_clock)
                .where(schedule_clock.c.next_run_at <= now)
                .order_by(schedule_clock.c.next_run_at, schedule_clock.c.schedule_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def ran(
    session: AsyncSession,
    schedule_id: UUID,
    run_at: datetime,
    report_id: UUID,
    next_run_at: datetime,
) -> None:
    """Record a run (in the schedule's tenant) and set the clock to the next one."""
    await session.execute(
        sa.update(report_schedules)
        .where(report_schedules.c.id == schedule_id)
        .values(last_run_at=run_at, last_report_id=report_id)
    )
    await session.execute(
        sa.update(schedule_clock)
        .where(schedule_clock.c.schedule_id == schedule_id)
        .values(next_run_at=next_run_at)
    )


async def drop_workspace(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID
) -> list[sa.Row[Any]]:
    """On its purge, take the workspace out of the tenant's schedules; one it leaves with
    none is paused, off the clock (each run would fail: its scope covers no workspace) until
    :func:`rescope` gives it some. The schedules it paused. The clock goes first, as in the
    scheduler's pass (clock, then schedule), so the two never wait on each other."""
    s = report_schedules
    named = sa.and_(s.c.tenant_id == tenant_id, s.c.scope_workspaces.any_() == workspace_id)
    only = emptied_without(s.c.scope_workspaces, workspace_id)
    await session.execute(
        sa.delete(schedule_clock).where(
            schedule_clock.c.schedule_id.in_(sa.select(s.c.id).where(named, only))
        )
    )
    paused_at = sa.func.coalesce(s.c.paused_at, sa.func.now())
    changed = await session.execute(
        without_workspace(
            s.c.scope_workspaces, tenant_id, workspace_id, when_emptied={"paused_at": paused_at}
        )
    )
    return [row for row in changed if not row.scope_workspaces]


async def forget(session: AsyncSession, schedule_id: UUID) -> None:
    """Drop a clock entry whose schedule is gone."""
    await session.execute(
        sa.delete(schedule_clock).where(schedule_clock.c.schedule_id == schedule_id)
    )

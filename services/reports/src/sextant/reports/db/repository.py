"""Report jobs and the render queue: every statement on them. Functions never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import file_expiry, render_queue, reports
from sextant.runtime.purge import without_workspace


@dataclass(frozen=True)
class NewReport:
    id: UUID
    tenant_id: UUID
    kind: str
    format: str
    scope: str
    scope_workspaces: list[UUID]
    period_from: date
    period_to: date
    time_zone: str
    requested_by: str
    requester_role: str
    schedule_id: UUID | None = None
    notify: list[str] | None = None
    items: int | None = None
    tenants: list[UUID] | None = None
    definition: str | None = None


async def create(session: AsyncSession, new: NewReport, now: datetime) -> sa.Row[Any]:
    """Store a queued job and put it on the render queue."""
    row: sa.Row[Any] = (
        await session.execute(
            sa.insert(reports)
            .values(
                **new.__dict__,
                status="queued",
                progress=0,
                step="queued",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            .returning(reports)
        )
    ).one()
    await session.execute(sa.insert(render_queue).values(report_id=new.id, tenant_id=new.tenant_id))
    return row


async def get(session: AsyncSession, tenant_id: UUID, report_id: UUID) -> sa.Row[Any] | None:
    """A job of the tenant, expired ones included (their routes answer 410)."""
    return (
        await session.execute(
            sa.select(reports).where(reports.c.tenant_id == tenant_id, reports.c.id == report_id)
        )
    ).one_or_none()


async def page(
    session: AsyncSession, tenant_id: UUID, after: UUID | None, limit: int
) -> list[sa.Row[Any]]:
    """A tenant's jobs by id (oldest first: ids are UUIDv7), after ``after``."""
    query = sa.select(reports).where(
        reports.c.tenant_id == tenant_id, reports.c.deleted_at.is_(None)
    )
    if after is not None:
        query = query.where(reports.c.id > after)
    return list((await session.execute(query.order_by(reports.c.id).limit(limit))).all())


async def requeue(session: AsyncSession, tenant_id: UUID, report_id: UUID, now: datetime) -> bool:
    """A failed job back on the queue; False when it is not a failed job of the tenant."""
    updated = await session.execute(
        sa.update(reports)
        .where(
            reports.c.tenant_id == tenant_id,
            reports.c.id == report_id,
            reports.c.status == "failed",
        )
        .values(status="queued", progress=0, step="queued", reason=None, updated_at=now)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        return False
    await session.execute(sa.insert(render_queue).values(report_id=report_id, tenant_id=tenant_id))
    return True


async def claim_next(session: AsyncSession, lease: timedelta) -> tuple[UUID, UUID] | None:
    """Lease the next job nobody holds (or whose holder's lease ran out): (report, tenant)."""
    waiting = (
        sa.select(render_queue.c.report_id)
        .where(
            sa.or_(
                render_queue.c.lease_until.is_(None),
                render_queue.c.lease_until < sa.func.now(),
            )
        )
        .order_by(render_queue.c.report_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            sa.update(render_queue)
            .where(render_queue.c.report_id == waiting)
            .values(lease_until=sa.func.now() + lease)
            .returning(render_queue.c.report_id, render_queue.c.tenant_id)
        )
    ).one_or_none()
    return None if row is None else (row.report_id, row.tenant_id)


async def start_attempt(
    session: AsyncSession, report_id: UUID, now: datetime
) -> sa.Row[Any] | None:
    """The leased job, now running; None when its tenant's purge took it since the lease."""
    row: sa.Row[Any] | None = (
        await session.execute(
            sa.update(reports)
            .where(reports.c.id == report_id)
            .values(
                status="running",
                progress=5,
                step="started",
                attempts=reports.c.attempts + 1,
                updated_at=now,
            )
            .returning(reports)
        )
    ).one_or_none()
    return row


async def progress(
    session: AsyncSession, report_id: UUID, percent: int, step: str, now: datetime
) -> None:
    await session.execute(
        sa.update(reports)
        .where(reports.c.id == report_id)
        .values(progress=percent, step=step, updated_at=now)
    )


async def finish(
    session: AsyncSession,
    report_id: UUID,
    now: datetime,
    *,
    object_key: str | None = None,
    size_bytes: int | None = None,
    sha256: str | None = None,
    reason: str | None = None,
    expires_at: datetime | None = None,
) -> bool:
    """Done with its file (kept until ``expires_at``), or failed with its reason; off the
    queue either way. False when the job is gone: its tenant's purge took it as it rendered."""
    failed = reason is not None
    tenant_id = (
        await session.execute(
            sa.update(reports)
            .where(reports.c.id == report_id)
            .values(
                status="failed" if failed else "done",
                progress=100,
                step="failed" if failed else "done",
                reason=reason,
                object_key=object_key,
                size_bytes=size_bytes,
                sha256=sha256,
                updated_at=now,
                finished_at=now,
                expires_at=expires_at,
            )
            .returning(reports.c.tenant_id)
        )
    ).scalar_one_or_none()
    if tenant_id is None:
        return False
    await session.execute(sa.delete(render_queue).where(render_queue.c.report_id == report_id))
    if expires_at is not None:
        await session.execute(
            sa.insert(file_expiry).values(
                report_id=report_id, tenant_id=tenant_id, expires_at=expires_at
            )
        )
    return True


async def expired(session: AsyncSession, now: datetime, limit: int) -> list[sa.Row[Any]]:
    """Files of any tenant expired at ``now``, locked for this transaction (another sweep
    skips them): (report_id, tenant_id, expires_at)."""
    return list(
        (
            await session.execute(
                sa.select(file_expiry)
                .where(file_expiry.c.expires_at <= now)
                .order_by(file_expiry.c.expires_at, file_expiry.c.report_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def soft_delete(session: AsyncSession, report_id: UUID, now: datetime) -> str | None:
    """Mark an expired job deleted (in its tenant) and drop its expiry; its file's key."""
    key: str | None = (
        await session.execute(
            sa.update(reports)
            .where(reports.c.id == report_id)
            .values(deleted_at=now, updated_at=now)
            .returning(reports.c.object_key)
        )
    ).scalar_one_or_none()
    await session.execute(sa.delete(file_expiry).where(file_expiry.c.report_id == report_id))
    return key


async def drop_workspace(session: AsyncSession, tenant_id: UUID, workspace_id: UUID) -> None:
    """On its purge, take the workspace out of the tenant's jobs; a job keeps its record
    (a finished one its file) even when none is left: it says what was asked and made."""
    await session.execute(without_workspace(reports.c.scope_workspaces, tenant_id, workspace_id))

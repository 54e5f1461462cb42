"""Reads and writes of the check runs posted back to the tools and their queue; plain
values in and out, never a commit. The queue's reads (db/leases.py) are the only
cross-tenant ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.ingest.db import check_run_queue, check_runs, leases, sources
from sextant.ingest.db.repository import SourceRow

POSTS_TO = ("github", "gitlab")


@dataclass(frozen=True)
class CheckRunRow:
    tenant_id: UUID
    id: UUID
    source_id: UUID
    repository: str
    sha: str
    environment: str
    evaluation_id: UUID
    evaluated_at: datetime
    verdict: str
    summary: str
    external_ref: str | None
    status: str
    attempts: int
    last_error: str | None
    updated_at: datetime


async def posting_sources(session: AsyncSession, workspace_id: UUID) -> list[SourceRow]:
    """The workspace's live GitHub and GitLab sources that hold API credentials."""
    s = sources
    rows = (
        await session.execute(
            sa.select(s).where(
                (s.c.workspace_id == workspace_id)
                & s.c.kind.in_(POSTS_TO)
                & s.c.credentials_sealed.is_not(None)
                & s.c.deleted_at.is_(None)
                & s.c.disabled_at.is_(None)
                & s.c.suspended_at.is_(None)
            )
        )
    ).mappings()
    return [SourceRow(**row) for row in rows]


async def record_evaluation(
    session: AsyncSession,
    tenant_id: UUID,
    source_id: UUID,
    *,
    repository: str,
    sha: str,
    environment: str,
    evaluation_id: UUID,
    evaluated_at: datetime,
    verdict: str,
    summary: str,
    now: datetime,
) -> bool:
    """The newest evaluation of (source, repository, SHA, environment), due to be posted
    now; False when a newer one is already held (events of two evaluations may arrive
    out of order: they travel on different keys)."""
    c = check_runs
    values: dict[str, Any] = {
        "evaluation_id": evaluation_id,
        "evaluated_at": evaluated_at,
        "verdict": verdict,
        "summary": summary,
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "updated_at": now,
    }
    statement = insert(c).values(
        tenant_id=tenant_id,
        id=uuid7(),
        source_id=source_id,
        repository=repository,
        sha=sha,
        environment=environment,
        **values,
    )
    row = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["source_id", "repository", "sha", "environment"],
                set_=values,
                where=c.c.evaluated_at <= statement.excluded.evaluated_at,
            ).returning(c.c.id)
        )
    ).first()
    if row is None:
        return False
    await _due(session, row.id, tenant_id, now)
    return True


async def _due(session: AsyncSession, check_run_id: UUID, tenant_id: UUID, now: datetime) -> None:
    """Queue the check run (again), due ``now``; the posters woken at commit."""
    q = insert(check_run_queue).values(
        check_run_id=check_run_id, tenant_id=tenant_id, due_at=now, lease_until=None
    )
    await session.execute(
        q.on_conflict_do_update(
            index_elements=["check_run_id"], set_={"due_at": now, "lease_until": None}
        )
    )
    await leases.wake(session, check_run_queue)


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta
) -> list[tuple[UUID, UUID]]:
    """Lease up to ``limit`` due check runs of any tenant: (check run, tenant)."""
    return await leases.claim_due(
        session, check_run_queue, "check_run_id", limit=limit, lease=lease
    )


async def get_check_run(session: AsyncSession, check_run_id: UUID) -> CheckRunRow | None:
    row = (
        (await session.execute(sa.select(check_runs).where(check_runs.c.id == check_run_id)))
        .mappings()
        .first()
    )
    return CheckRunRow(**row) if row else None


async def record_attempt(
    session: AsyncSession,
    check: CheckRunRow,
    now: datetime,
    *,
    status: str,
    external_ref: str | None,
    error: str | None,
    retry_at: datetime | None,
) -> None:
    """One attempt's outcome: posted, skipped, retried at ``retry_at`` or failed; only if
    the row still holds the evaluation this attempt posted (a newer one re-queued it)."""
    c, q = check_runs, check_run_queue
    if external_ref is not None:  # kept even when a newer evaluation came meanwhile
        await session.execute(
            sa.update(c)
            .where(c.c.id == check.id)
            .values(external_ref=sa.func.coalesce(c.c.external_ref, external_ref))
        )
    updated = await session.execute(
        sa.update(c)
        .where((c.c.id == check.id) & (c.c.evaluation_id == check.evaluation_id))
        .values(
            status=status,
            attempts=c.c.attempts + 1,
            last_error=error,
            updated_at=now,
        )
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        await session.execute(
            sa.update(q).where(q.c.check_run_id == check.id).values(lease_until=None)
        )
        return
    if retry_at is not None:
        await session.execute(
            sa.update(q)
            .where(q.c.check_run_id == check.id)
            .values(due_at=retry_at, lease_until=None)
        )
    else:
        await session.execute(sa.delete(q).where(q.c.check_run_id == check.id))


async def record_override(
    session: AsyncSession, evaluation_id: UUID, summary: str, now: datetime
) -> int:
    """A break-glass override of an evaluation still held: its check runs turn ``pass``
    (flagged in the summary) and are due again; how many."""
    c = check_runs
    rows = (
        await session.execute(
            sa.update(c)
            .where(c.c.evaluation_id == evaluation_id)
            .values(
                verdict="pass",
                summary=summary,
                status="pending",
                attempts=0,
                last_error=None,
                updated_at=now,
            )
            .returning(c.c.id, c.c.tenant_id)
        )
    ).all()
    for row in rows:
        await _due(session, row.id, row.tenant_id, now)
    return len(rows)

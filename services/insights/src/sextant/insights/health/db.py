"""Team-health tables (schema ``insights``) and their reads and writes. Rows never leave
this module: callers get plain values.

- ``health_runs``: every run (on demand or scheduled), its progress and its result.
- ``health_queue`` (cross-tenant): runs waiting for a worker, leased while one works.
- ``health_schedules`` (cross-tenant): when each workspace's, or each team's in a
  workspace, weekly run is next due.
- ``suggestions``: what runs suggested, with the findings they rest on and their rank.
- ``suggestion_feedback``: every verdict given (confirm, reject, snooze) and why.
- ``health_acceptance``: per tenant and kind, the confirmations and rejections counted
  (the Beta-Bernoulli model's data).
- ``health_tokens``: Gemini tokens spent per tenant and UTC day (the budget).
- ``health_stale``: work items the forecast service flagged stale and nobody dismissed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import change_requests, metadata, reviews, work_items
from sextant.insights.health.detectors import Change, Review, WorkItem

_ts = sa.DateTime(timezone=True)

health_runs = sa.Table(
    "health_runs",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("team_id", sa.Uuid),
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("progress", sa.Integer, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("started_at", _ts),
    sa.Column("finished_at", _ts),
    sa.Column("result", JSONB),
    sa.Column("error", sa.Text),
)

health_queue = sa.Table(
    "health_queue",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("lease_until", _ts),
    info={"cross_tenant": "a worker takes the next run of any tenant, then works as it"},
)

health_schedules = sa.Table(
    "health_schedules",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("team_key", sa.Uuid, primary_key=True),  # WHOLE_WORKSPACE or a team's id
    sa.Column("next_run_at", _ts, nullable=False),
    info={"cross_tenant": "the scheduler finds the workspaces due, of every tenant"},
)
WHOLE_WORKSPACE = UUID(int=0)  # a schedule row of no team: the workspace's own run

suggestions = sa.Table(
    "suggestions",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("run_id", sa.Uuid, nullable=False),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("team_id", sa.Uuid),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("rationale", sa.Text, nullable=False),
    sa.Column("finding_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("findings", JSONB, nullable=False),
    sa.Column("people", ARRAY(sa.Uuid), nullable=False),
    sa.Column("aliases", JSONB, nullable=False),
    sa.Column("area", sa.Text),
    sa.Column("written_by", sa.Text, nullable=False),
    sa.Column("rank", sa.Float, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("snoozed_until", _ts),
    sa.Column("decided_at", _ts),
    sa.Column("created_at", _ts, nullable=False),
)
sa.Index(
    "suggestions_ranked",
    suggestions.c.tenant_id,
    suggestions.c.workspace_id,
    suggestions.c.rank.desc(),
    suggestions.c.id,
)

suggestion_feedback = sa.Table(
    "suggestion_feedback",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("suggestion_id", sa.Uuid, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", _ts, nullable=False),
)

health_acceptance = sa.Table(
    "health_acceptance",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("confirmed", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    sa.Column("snoozed", sa.Integer, nullable=False),
)

health_tokens = sa.Table(
    "health_tokens",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("tokens", sa.BigInteger, nullable=False),
)

health_stale = sa.Table(
    "health_stale",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("work_item_key", sa.Text, primary_key=True),
    sa.Column("flagged_at", _ts, nullable=False),
)


# activity ------------------------------------------------------------------------------


async def activity(
    session: AsyncSession, tenant: UUID, workspace: UUID, since: datetime
) -> tuple[list[Change], list[Review], list[WorkItem]]:
    """The workspace's changes opened since ``since`` or still open, their reviews, and its
    work items not done (and done ones for history), people-less rows and bots left out."""
    c = change_requests
    change_rows = await session.execute(
        sa.select(
            c.c.id,
            c.c.author_developer_id,
            c.c.repository,
            c.c.opened_at,
            c.c.first_review_at,
            c.c.merged_at,
            c.c.closed_at,
        ).where(
            c.c.tenant_id == tenant,
            c.c.workspace_id == workspace,
            c.c.author_developer_id.is_not(None),
            c.c.author_is_bot.is_(False),
            sa.or_(
                c.c.opened_at >= since, sa.and_(c.c.merged_at.is_(None), c.c.closed_at.is_(None))
            ),
        )
    )
    changes = [
        Change(
            r.id,
            r.author_developer_id,
            r.repository,
            r.opened_at,
            r.first_review_at,
            r.merged_at,
            r.closed_at is not None,
        )
        for r in change_rows
    ]
    r = reviews
    review_rows = await session.execute(
        sa.select(r.c.change_request_id, r.c.reviewer_developer_id, r.c.submitted_at).where(
            r.c.tenant_id == tenant,
            r.c.workspace_id == workspace,
            r.c.reviewer_developer_id.is_not(None),
            r.c.reviewer_is_bot.is_(False),
            r.c.submitted_at >= since,
        )
    )
    found_reviews = [
        Review(x.change_request_id, x.reviewer_developer_id, x.submitted_at) for x in review_rows
    ]
    w = work_items
    s = health_stale
    item_rows = await session.execute(
        sa.select(
            w.c.id,
            w.c.key,
            w.c.assignee_developer_id,
            w.c.category,
            w.c.category_at,
            w.c.started_at,
            s.c.flagged_at,
        )
        .select_from(
            w.outerjoin(
                s,
                (s.c.tenant_id == w.c.tenant_id)
                & (s.c.workspace_id == w.c.workspace_id)
                & (s.c.work_item_key == w.c.key),
            )
        )
        .where(
            w.c.tenant_id == tenant,
            w.c.workspace_id == workspace,
            w.c.deleted_at.is_(None),
            w.c.category != "done",
        )
    )
    items = [
        WorkItem(
            id=x.id,
            key=x.key,
            assignee=x.assignee_developer_id,
            status="in_progress" if x.category == "in_progress" else "queued",
            assigned_at=x.started_at or x.category_at,
            stale_since=x.flagged_at,
        )
        for x in item_rows
    ]
    return changes, found_reviews, items


# stale flags ---------------------------------------------------------------------------


async def flag_stale(
    session: AsyncSession, tenant: UUID, workspace: UUID, key: str, at: datetime
) -> None:
    statement = insert(health_stale).values(
        tenant_id=tenant, workspace_id=workspace, work_item_key=key, flagged_at=at
    )
    await session.execute(statement.on_conflict_do_nothing())


async def clear_stale(session: AsyncSession, tenant: UUID, workspace: UUID, key: str) -> None:
    s = health_stale
    await session.execute(
        sa.delete(s).where(
            s.c.tenant_id == tenant, s.c.workspace_id == workspace, s.c.work_item_key == key
        )
    )


# runs ----------------------------------------------------------------------------------


async def create_run(session: AsyncSession, values: dict[str, Any]) -> sa.Row[Any]:
    row: sa.Row[Any] = (
        await session.execute(sa.insert(health_runs).values(**values).returning(health_runs))
    ).one()
    await session.execute(
        sa.insert(health_queue).values(run_id=values["id"], tenant_id=values["tenant_id"])
    )
    return row


async def run(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], run_id: UUID
) -> sa.Row[Any] | None:
    t = health_runs
    return (
        await session.execute(
            sa.select(t).where(
                t.c.tenant_id == tenant, t.c.workspace_id.in_(workspaces), t.c.id == run_id
            )
        )
    ).one_or_none()


async def update_run(session: AsyncSession, tenant: UUID, run_id: UUID, **values: Any) -> None:
    t = health_runs
    await session.execute(
        sa.update(t).where(t.c.tenant_id == tenant, t.c.id == run_id).values(**values)
    )


async def claim_next(session: AsyncSession, lease: timedelta) -> tuple[UUID, UUID] | None:
    """Lease the next run nobody holds (or whose holder's lease ran out): (run, tenant)."""
    q = health_queue
    waiting = (
        sa.select(q.c.run_id)
        .where(sa.or_(q.c.lease_until.is_(None), q.c.lease_until < sa.func.now()))
        .order_by(q.c.run_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            sa.update(q)
            .where(q.c.run_id == waiting)
            .values(lease_until=sa.func.now() + lease)
            .returning(q.c.run_id, q.c.tenant_id)
        )
    ).one_or_none()
    return None if row is None else (row.run_id, row.tenant_id)


async def dequeue(session: AsyncSession, run_id: UUID) -> None:
    await session.execute(sa.delete(health_queue).where(health_queue.c.run_id == run_id))


async def schedule(
    session: AsyncSession, tenant: UUID, workspace: UUID, team: UUID | None, due: datetime
) -> None:
    """Put the workspace's run, or its run for ``team``, on the weekly schedule (kept as is
    when it is already on it)."""
    statement = insert(health_schedules).values(
        tenant_id=tenant,
        workspace_id=workspace,
        team_key=team or WHOLE_WORKSPACE,
        next_run_at=due,
    )
    await session.execute(statement.on_conflict_do_nothing())


async def take_due(
    session: AsyncSession, now: datetime, every: timedelta, limit: int = 100
) -> list[tuple[UUID, UUID, UUID | None]]:
    """The (tenant, workspace, team or None) runs due, moved on by ``every``; rows another
    replica holds are skipped, so each due run is taken once."""
    s = health_schedules
    due = (
        await session.execute(
            sa.select(s.c.tenant_id, s.c.workspace_id, s.c.team_key)
            .where(s.c.next_run_at <= now)
            .order_by(s.c.next_run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for tenant, workspace, team_key in due:
        await session.execute(
            sa.update(s)
            .where(s.c.tenant_id == tenant, s.c.workspace_id == workspace, s.c.team_key == team_key)
            .values(next_run_at=now + every)
        )
    return [(t, w, None if k == WHOLE_WORKSPACE else k) for t, w, k in due]


# tokens --------------------------------------------------------------------------------


async def tokens_spent(session: AsyncSession, tenant: UUID, day: date) -> int:
    t = health_tokens
    found = await session.scalar(
        sa.select(t.c.tokens).where(t.c.tenant_id == tenant, t.c.day == day)
    )
    return int(found or 0)


async def spend_tokens(session: AsyncSession, tenant: UUID, day: date, tokens: int) -> None:
    statement = insert(health_tokens).values(tenant_id=tenant, day=day, tokens=tokens)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[health_tokens.c.tenant_id, health_tokens.c.day],
            set_={"tokens": health_tokens.c.tokens + statement.excluded.tokens},
        )
    )


# suggestions ---------------------------------------------------------------------------


async def acceptance(session: AsyncSession, tenant: UUID) -> dict[str, tuple[int, int, int]]:
    """kind → (confirmed, rejected, snoozed)."""
    a = health_acceptance
    rows = await session.execute(
        sa.select(a.c.kind, a.c.confirmed, a.c.rejected, a.c.snoozed).where(a.c.tenant_id == tenant)
    )
    return {r.kind: (r.confirmed, r.rejected, r.snoozed) for r in rows}


async def count_verdict(session: AsyncSession, tenant: UUID, kind: str, verdict: str) -> None:
    a = health_acceptance
    column = {"confirmed": "confirmed", "rejected": "rejected", "snoozed": "snoozed"}[verdict]
    statement = insert(a).values(
        tenant_id=tenant,
        kind=kind,
        confirmed=int(column == "confirmed"),
        rejected=int(column == "rejected"),
        snoozed=int(column == "snoozed"),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[a.c.tenant_id, a.c.kind],
            set_={column: a.c[column] + 1},
        )
    )


async def recent_decisions(
    session: AsyncSession, tenant: UUID, workspace: UUID, since: datetime, now: datetime
) -> list[Any]:
    """Suggestions that hold back a repeat: open ones, snoozed ones still snoozed, and
    ones rejected since ``since``."""
    s = suggestions
    found = (
        await session.execute(
            sa.select(s.c.kind, s.c.people, s.c.area, s.c.status).where(
                s.c.tenant_id == tenant,
                s.c.workspace_id == workspace,
                sa.or_(
                    s.c.status == "open",
                    sa.and_(s.c.status == "snoozed", s.c.snoozed_until > now),
                    sa.and_(s.c.status == "rejected", s.c.decided_at >= since),
                ),
            )
        )
    ).all()
    return list(found)


async def add_suggestions(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(suggestions), list(rows))


async def suggestion(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    suggestion_id: UUID,
    *,
    lock: bool = False,
) -> sa.Row[Any] | None:
    s = suggestions
    query = sa.select(s).where(
        s.c.tenant_id == tenant, s.c.workspace_id.in_(workspaces), s.c.id == suggestion_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).one_or_none()


async def list_suggestions(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    status: str | None,
    limit: int,
    after: UUID | None,
) -> list[sa.Row[Any]]:
    """Ranked: highest rank first, then by id; ``after`` continues after that suggestion."""
    s = suggestions
    conditions = [s.c.tenant_id == tenant, s.c.workspace_id.in_(workspaces)]
    if status is not None:
        conditions.append(s.c.status == status)
    if after is not None:
        last = (
            await session.execute(
                sa.select(s.c.rank, s.c.id).where(s.c.tenant_id == tenant, s.c.id == after)
            )
        ).one_or_none()
        if last is not None:
            conditions.append(
                sa.or_(s.c.rank < last.rank, sa.and_(s.c.rank == last.rank, s.c.id > last.id))
            )
    return list(
        (
            await session.execute(
                sa.select(s).where(*conditions).order_by(s.c.rank.desc(), s.c.id).limit(limit)
            )
        ).all()
    )


async def decide(
    session: AsyncSession,
    tenant: UUID,
    suggestion_id: UUID,
    values: dict[str, Any],
    feedback: dict[str, Any],
) -> sa.Row[Any]:
    s = suggestions
    row: sa.Row[Any] = (
        await session.execute(
            sa.update(s)
            .where(s.c.tenant_id == tenant, s.c.id == suggestion_id)
            .values(**values)
            .returning(s)
        )
    ).one()
    await session.execute(sa.insert(suggestion_feedback).values(**feedback))
    return row


async def verdict_counts(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID]
) -> dict[str, dict[str, int]]:
    """kind → status → suggestions, in the scope."""
    s = suggestions
    rows = await session.execute(
        sa.select(s.c.kind, s.c.status, sa.func.count())
        .where(s.c.tenant_id == tenant, s.c.workspace_id.in_(workspaces))
        .group_by(s.c.kind, s.c.status)
    )
    out: dict[str, dict[str, int]] = {}
    for kind, status, n in rows:
        out.setdefault(kind, {})[status] = n
    return out

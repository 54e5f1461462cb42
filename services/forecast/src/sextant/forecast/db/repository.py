"""Reads and writes of the work-item projection; callers own the transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.forecast.db import known_scopes, sprint_items, sprints, transitions, work_items


@dataclass(frozen=True)
class ItemSnapshot:
    """A work item as an activity event describes it."""

    key: str
    source_kind: str
    external_id: str
    url: str | None
    title: str
    item_type: str
    status: str
    status_category: str
    created_at: datetime
    sprint_ids: list[str]


@dataclass(frozen=True)
class InProgressItem:
    workspace_id: UUID
    key: str
    title: str
    item_type: str
    status: str
    state_since: datetime
    stale_dismissed_at: datetime | None
    stale_flagged_at: datetime | None


async def record_snapshot(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    item: ItemSnapshot,
    occurred_at: datetime,
) -> None:
    """Create or refresh an item; the status only moves forward in time."""
    t = work_items
    values = {
        "tenant_id": tenant_id,
        "workspace_id": workspace_id,
        "key": item.key,
        "source_kind": item.source_kind,
        "external_id": item.external_id,
        "url": item.url,
        "title": item.title,
        "item_type": item.item_type,
        "status": item.status,
        "status_category": item.status_category,
        "state_since": occurred_at,
        "created_at": item.created_at,
        "sprint_ids": item.sprint_ids,
        "started_at": occurred_at if item.status_category == "in_progress" else None,
        "done_at": occurred_at if item.status_category == "done" else None,
    }
    statement = insert(t).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.workspace_id, t.c.key],
            set_={
                "title": statement.excluded.title,
                "item_type": statement.excluded.item_type,
                "url": statement.excluded.url,
                "sprint_ids": statement.excluded.sprint_ids,
                "deleted_at": None,
            },
        )
    )


async def change_recorded(session: AsyncSession, event_id: UUID) -> bool:
    """Whether the change of fact ``event_id`` is in the history already: then the item's
    snapshot and state have taken it too, and applying it again would undo what came
    after (a later title, a dismissed stale flag)."""
    found = await session.execute(
        sa.select(sa.literal(1)).where(transitions.c.event_id == event_id).limit(1)
    )
    return found.first() is not None


async def record_transition(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    key: str,
    *,
    from_status: str | None,
    to_status: str,
    to_category: str,
    at: datetime,
    event_id: UUID,
) -> None:
    """Append to the status history (once per change: a revised event of one already
    recorded adds nothing) and move the item's current state (if not older)."""
    await session.execute(
        insert(transitions)
        .values(
            tenant_id=tenant_id,
            workspace_id=workspace_id,
            key=key,
            from_status=from_status,
            to_status=to_status,
            to_category=to_category,
            at=at,
            event_id=event_id,
        )
        .on_conflict_do_nothing()
    )
    t = work_items
    in_scope = (t.c.tenant_id == tenant_id) & (t.c.workspace_id == workspace_id) & (t.c.key == key)
    await session.execute(
        sa.update(t)
        .where(in_scope & (t.c.state_since <= at))
        .values(
            status=to_status,
            status_category=to_category,
            state_since=at,
            started_at=sa.case(
                (sa.and_(t.c.started_at.is_(None), sa.literal(to_category) != "todo"), at),
                else_=t.c.started_at,
            ),
            done_at=sa.case((sa.literal(to_category) == "done", at), else_=None),
            stale_dismissed_at=None,
            stale_flagged_at=None,
        )
    )


async def mark_deleted(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, key: str, at: datetime
) -> None:
    t = work_items
    await session.execute(
        sa.update(t)
        .where((t.c.tenant_id == tenant_id) & (t.c.workspace_id == workspace_id) & (t.c.key == key))
        .values(deleted_at=at)
    )


def _scope(tenant_id: UUID, workspace_ids: list[UUID]) -> sa.ColumnElement[bool]:
    """The application's own tenant filter (RLS is the second wall)."""
    t = work_items
    return (
        (t.c.tenant_id == tenant_id)
        & t.c.workspace_id.in_(workspace_ids)
        & t.c.deleted_at.is_(None)
    )


async def done_times(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_ids: list[UUID],
    item_types: list[str] | None,
    since: datetime,
) -> list[datetime]:
    """When items in scope were done, since ``since`` (soft-deleted items excluded)."""
    t = work_items
    query = sa.select(t.c.done_at).where(_scope(tenant_id, workspace_ids) & (t.c.done_at >= since))
    if item_types:
        query = query.where(t.c.item_type.in_(item_types))
    return list((await session.execute(query)).scalars())


async def in_progress(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID]
) -> list[InProgressItem]:
    t = work_items
    rows = await session.execute(
        sa.select(
            t.c.workspace_id,
            t.c.key,
            t.c.title,
            t.c.item_type,
            t.c.status,
            t.c.state_since,
            t.c.stale_dismissed_at,
            t.c.stale_flagged_at,
        )
        .where(_scope(tenant_id, workspace_ids) & (t.c.status_category == "in_progress"))
        .order_by(t.c.state_since)
    )
    return [InProgressItem(*row) for row in rows]


async def state_durations(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID]
) -> dict[tuple[str, str], list[float]]:
    """Days items of each (type, status) stayed in that status before moving on."""
    h, t = transitions, work_items
    leaving = sa.func.lead(h.c.at).over(partition_by=(h.c.workspace_id, h.c.key), order_by=h.c.at)
    spells = (
        sa.select(
            h.c.workspace_id,
            h.c.key,
            h.c.to_status.label("status"),
            h.c.at,
            leaving.label("left_at"),
        )
        .where((h.c.tenant_id == tenant_id) & h.c.workspace_id.in_(workspace_ids))
        .subquery()
    )
    rows = await session.execute(
        sa.select(
            t.c.item_type,
            spells.c.status,
            sa.func.extract("epoch", spells.c.left_at - spells.c.at) / 86400.0,
        )
        .join(t, (t.c.workspace_id == spells.c.workspace_id) & (t.c.key == spells.c.key))
        .where(spells.c.left_at.is_not(None) & _scope(tenant_id, workspace_ids))
    )
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item_type, status, days in rows:
        durations[(item_type, status)].append(float(days))
    return dict(durations)


async def dismiss_stale(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID], key: str, at: datetime
) -> bool:
    t = work_items
    result = await session.execute(
        sa.update(t)
        .where(_scope(tenant_id, workspace_ids) & (t.c.key == key))
        .values(stale_dismissed_at=at)
        .returning(t.c.key)
    )
    return result.first() is not None


@dataclass(frozen=True)
class SprintState:
    sprint_id: str
    name: str
    ends_at: datetime | None
    closed_at: datetime | None
    not_started: int
    in_progress_since: list[datetime]  # when each in-progress item entered its state
    done: int


async def record_sprint(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    sprint_id: str,
    name: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
) -> None:
    """Create or rename a sprint; a date the event does not carry (a scope change names
    the sprint only) keeps the one known."""
    statement = insert(sprints).values(
        tenant_id=tenant_id,
        workspace_id=workspace_id,
        sprint_id=sprint_id,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[sprints.c.tenant_id, sprints.c.workspace_id, sprints.c.sprint_id],
            set_={
                "name": statement.excluded.name,
                "starts_at": sa.func.coalesce(statement.excluded.starts_at, sprints.c.starts_at),
                "ends_at": sa.func.coalesce(statement.excluded.ends_at, sprints.c.ends_at),
            },
        )
    )


async def change_sprint_scope(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    sprint_id: str,
    added: list[str],
    removed: list[str],
) -> None:
    if added:
        await session.execute(
            insert(sprint_items)
            .values(
                [
                    {
                        "tenant_id": tenant_id,
                        "workspace_id": workspace_id,
                        "sprint_id": sprint_id,
                        "key": k,
                    }
                    for k in added
                ]
            )
            .on_conflict_do_nothing()
        )
    if removed:
        s = sprint_items
        await session.execute(
            sa.delete(s).where(
                (s.c.tenant_id == tenant_id)
                & (s.c.workspace_id == workspace_id)
                & (s.c.sprint_id == sprint_id)
                & s.c.key.in_(removed)
            )
        )


async def close_sprint(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, sprint_id: str, at: datetime
) -> None:
    s = sprints
    await session.execute(
        sa.update(s)
        .where(
            (s.c.tenant_id == tenant_id)
            & (s.c.workspace_id == workspace_id)
            & (s.c.sprint_id == sprint_id)
        )
        .values(closed_at=at)
    )


async def sprint_state(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, sprint_id: str
) -> SprintState | None:
    s, si, t = sprints, sprint_items, work_items
    sprint = (
        await session.execute(
            sa.select(s.c.name, s.c.ends_at, s.c.closed_at).where(
                (s.c.tenant_id == tenant_id)
                & (s.c.workspace_id == workspace_id)
                & (s.c.sprint_id == sprint_id)
            )
        )
    ).first()
    if sprint is None:
        return None
    items = (
        await session.execute(
            sa.select(t.c.status_category, t.c.state_since)
            .join(si, (si.c.workspace_id == t.c.workspace_id) & (si.c.key == t.c.key))
            .where(
                (si.c.tenant_id == tenant_id)
                & (si.c.workspace_id == workspace_id)
                & (si.c.sprint_id == sprint_id)
                & _scope(tenant_id, [workspace_id])
            )
        )
    ).all()
    return SprintState(
        sprint_id=sprint_id,
        name=sprint.name,
        ends_at=sprint.ends_at,
        closed_at=sprint.closed_at,
        not_started=sum(1 for c, _ in items if c == "todo"),
        in_progress_since=[since for c, since in items if c == "in_progress"],
        done=sum(1 for c, _ in items if c == "done"),
    )


async def cycle_times(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID]
) -> list[float]:
    """Days from start to done of every finished item in scope."""
    t = work_items
    rows = await session.execute(
        sa.select(sa.func.extract("epoch", t.c.done_at - t.c.started_at) / 86400.0).where(
            _scope(tenant_id, workspace_ids)
            & t.c.done_at.is_not(None)
            & t.c.started_at.is_not(None)
        )
    )
    return [float(v) for v in rows.scalars()]


async def remember_scope(session: AsyncSession, tenant_id: UUID, workspace_id: UUID) -> None:
    await session.execute(
        insert(known_scopes)
        .values(tenant_id=tenant_id, workspace_id=workspace_id)
        .on_conflict_do_nothing()
    )


async def all_scopes(session: AsyncSession) -> list[tuple[UUID, UUID]]:
    rows = await session.execute(sa.select(known_scopes.c.tenant_id, known_scopes.c.workspace_id))
    return [(tenant, workspace) for tenant, workspace in rows]


async def mark_flagged(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, key: str, at: datetime
) -> None:
    t = work_items
    await session.execute(
        sa.update(t)
        .where(_scope(tenant_id, [workspace_id]) & (t.c.key == key))
        .values(stale_flagged_at=at)
    )


async def histories(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID], item_types: list[str] | None
) -> dict[tuple[str, str], list[tuple[datetime, str, str]]]:
    """(item type, key) → its transitions (at, status, category), oldest first."""
    h, t = transitions, work_items
    query = (
        sa.select(t.c.item_type, h.c.key, h.c.at, h.c.to_status, h.c.to_category)
        .join(
            t,
            (t.c.workspace_id == h.c.workspace_id)
            & (t.c.key == h.c.key)
            & (t.c.tenant_id == h.c.tenant_id),
        )
        .where(_scope(tenant_id, workspace_ids))
        .order_by(h.c.key, h.c.at)
    )
    if item_types:
        query = query.where(t.c.item_type.in_(item_types))
    found: dict[tuple[str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
    for item_type, key, at, status, category in await session.execute(query):
        found[(item_type, key)].append((at, status, category))
    return dict(found)

"""Reads and writes of the work-item projection; callers own the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.forecast.db import (
    SCHEMA,
    developer_merges,
    known_scopes,
    sprint_items,
    sprints,
    transitions,
    work_items,
)
from sextant.runtime.db import driver_connection


@dataclass(frozen=True)
class ItemSnapshot:
    """A work item as an activity event describes it."""

    key: str
    source_id: UUID | None  # the source connection it came through (read API)
    assignee_developer_id: UUID | None  # as identity attributed it (read API)
    assignee_alias_id: UUID | None
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


@dataclass(frozen=True)
class ItemChange:
    """One work-item event of a batch: a status change (with the item as the event
    describes it, under the event's fact id) or, with ``snapshot`` None, a deletion."""

    workspace_id: UUID
    key: str
    at: datetime
    snapshot: ItemSnapshot | None = None
    event_id: UUID | None = None
    from_status: str | None = None
    to_status: str = ""
    to_category: str = ""


_ITEM_COLUMNS = (
    "workspace_id",
    "key",
    "source_kind",
    "external_id",
    "url",
    "title",
    "item_type",
    "status",
    "status_category",
    "state_since",
    "created_at",
    "sprint_ids",
    "started_at",
    "done_at",
    "deleted_at",
    "assignee_developer_id",
    "assignee_alias_id",
    "source_id",
    "stale_dismissed_at",
    "stale_flagged_at",
)
_TRANSITIONS = f"{SCHEMA}.{transitions.name}"
_ITEMS = f"{SCHEMA}.{work_items.name}"
_RECORDED = f"SELECT event_id FROM {_TRANSITIONS} WHERE event_id = ANY($1::uuid[])"  # noqa: S608 (names: constant identifiers)
# Once per change: a copy of a change already recorded (the fact id, or the same move at
# the same instant under a revised event's id) adds no row.
_RECORD_TRANSITIONS = (
    f"INSERT INTO {_TRANSITIONS}"  # noqa: S608 (names: constant identifiers)
    " (tenant_id, workspace_id, key, from_status, to_status, to_category, at, event_id)"
    " SELECT $1::uuid, w, k, f, s, c, a, e FROM unnest($2::uuid[], $3::text[], $4::text[],"
    " $5::text[], $6::text[], $7::timestamptz[], $8::uuid[]) WITH ORDINALITY"
    " AS t(w, k, f, s, c, a, e, n) ORDER BY n"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
_LOCK_ITEMS = (
    f"SELECT {', '.join(_ITEM_COLUMNS)} FROM {_ITEMS}"  # noqa: S608 (names: constant identifiers)
    " WHERE tenant_id = $1 AND (workspace_id, key) IN"
    " (SELECT * FROM unnest($2::uuid[], $3::text[])) ORDER BY workspace_id, key FOR UPDATE"
)
_WRITE_ITEM = (
    f"INSERT INTO {_ITEMS} (tenant_id, {', '.join(_ITEM_COLUMNS)})"  # noqa: S608 (names: constant identifiers)
    f" VALUES ({', '.join(f'${n}' for n in range(1, len(_ITEM_COLUMNS) + 2))})"
    " ON CONFLICT (tenant_id, workspace_id, key) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _ITEM_COLUMNS[2:])
)


_SURVIVORS = (
    f"SELECT developer_id, survivor_id FROM {SCHEMA}.developer_merges"  # noqa: S608 (constant)
    " WHERE tenant_id = $1 AND developer_id = ANY($2::uuid[])"
)


async def _as_survivors(
    driver: Any, tenant_id: UUID, changes: Sequence[ItemChange]
) -> Sequence[ItemChange]:
    """The changes with each assignee merged away since attribution replaced by the
    developer it is now (one round trip, only when the batch names an assignee)."""
    named = list({c.snapshot.assignee_developer_id for c in changes if c.snapshot} - {None})
    if not named:
        return changes
    now = {row[0]: row[1] for row in await driver.fetch(_SURVIVORS, tenant_id, named)}
    if not now:
        return changes
    return [
        replace(c, snapshot=replace(c.snapshot, assignee_developer_id=now[assignee]))
        if c.snapshot and (assignee := c.snapshot.assignee_developer_id) in now
        else c
        for c in changes
    ]


async def merge_developers(
    session: AsyncSession, tenant_id: UUID, survivor: UUID, merged: Sequence[UUID]
) -> None:
    """``merged`` (and whoever was merged into them before) are ``survivor`` now: their
    items are reassigned and later events naming them are written under the survivor."""
    m = developer_merges
    rows = [{"tenant_id": tenant_id, "developer_id": d, "survivor_id": survivor} for d in merged]
    statement = insert(m).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[m.c.tenant_id, m.c.developer_id],
            set_={"survivor_id": statement.excluded.survivor_id},
        )
    )
    await session.execute(
        sa.update(m)
        .where(m.c.tenant_id == tenant_id, m.c.survivor_id.in_(list(merged)))
        .values(survivor_id=survivor)
    )
    await session.execute(
        sa.update(work_items)
        .where(
            work_items.c.tenant_id == tenant_id,
            work_items.c.assignee_developer_id.in_(list(merged)),
        )
        .values(assignee_developer_id=survivor)
    )


async def hand_over_aliases(
    session: AsyncSession, tenant_id: UUID, alias_ids: Sequence[UUID], developer: UUID
) -> None:
    """Items assigned through ``alias_ids`` go to ``developer`` (a split or a moved alias);
    a developer a split restores is no longer merged away."""
    await session.execute(
        sa.delete(developer_merges).where(
            developer_merges.c.tenant_id == tenant_id,
            developer_merges.c.developer_id == developer,
        )
    )
    await session.execute(
        sa.update(work_items)
        .where(
            work_items.c.tenant_id == tenant_id,
            work_items.c.assignee_alias_id.in_(list(alias_ids)),
        )
        .values(assignee_developer_id=developer)
    )


async def apply_item_changes(
    session: AsyncSession, tenant_id: UUID, changes: Sequence[ItemChange]
) -> None:
    """Apply a batch of one tenant's work-item events, in order, in four statements
    whatever its size: the fact ids already in the history, the history's new rows, the
    items' current rows (locked), and the items as the events leave them.

    The outcome is the one of applying each event in turn: a change whose fact id is in
    the history already (redelivered after the inbox forgot it, or twice in the batch) is
    not applied again, since it would undo what came after (a later title, a dismissed
    stale flag); a change creates or refreshes its item (the status only moves forward in
    time) and is appended to the history once; a deletion marks an item that exists."""
    if not changes:
        return
    driver = await driver_connection(session)
    fact_ids = [c.event_id for c in changes if c.event_id is not None]
    recorded = {row[0] for row in await driver.fetch(_RECORDED, fact_ids)} if fact_ids else set()
    moves = [c for c in changes if c.event_id is not None and c.event_id not in recorded]
    appended: set[UUID] = set()
    if moves:
        rows = await driver.fetch(
            _RECORD_TRANSITIONS,
            tenant_id,
            [c.workspace_id for c in moves],
            [c.key for c in moves],
            [c.from_status for c in moves],
            [c.to_status for c in moves],
            [c.to_category for c in moves],
            [c.at for c in moves],
            [c.event_id for c in moves],
        )
        appended = {row[0] for row in rows}
    applied: list[ItemChange] = []
    changes = await _as_survivors(driver, tenant_id, changes)
    for change in changes:
        if change.event_id is not None:
            if change.event_id in recorded:
                continue
            if change.event_id in appended:  # its first copy is in the history now
                recorded.add(change.event_id)
        applied.append(change)
    scopes = sorted({(c.workspace_id, c.key) for c in applied})
    if not scopes:
        return
    found = await driver.fetch(
        _LOCK_ITEMS, tenant_id, [w for w, _ in scopes], [k for _, k in scopes]
    )
    items: dict[tuple[UUID, str], dict[str, object]] = {
        (row["workspace_id"], row["key"]): dict(row) for row in found
    }
    touched: set[tuple[UUID, str]] = set()
    for change in applied:
        scope = (change.workspace_id, change.key)
        if _apply(items, change):
            touched.add(scope)
    if touched:
        await driver.executemany(
            _WRITE_ITEM,
            [(tenant_id, *(items[s][c] for c in _ITEM_COLUMNS)) for s in sorted(touched)],
        )


def _apply(items: dict[tuple[UUID, str], dict[str, object]], change: ItemChange) -> bool:
    """One event on the items in hand; whether it changed one."""
    scope = (change.workspace_id, change.key)
    item = items.get(scope)
    snapshot = change.snapshot
    if snapshot is None:  # a deletion marks an item that exists
        if item is None:
            return False
        item["deleted_at"] = change.at
        return True
    if item is None:  # created as the event describes it, its state since the event
        category = snapshot.status_category
        item = items[scope] = {
            "workspace_id": change.workspace_id,
            "key": change.key,
            "source_kind": snapshot.source_kind,
            "external_id": snapshot.external_id,
            "created_at": snapshot.created_at,
            "status": snapshot.status,
            "status_category": category,
            "state_since": change.at,
            "started_at": change.at if category == "in_progress" else None,
            "done_at": change.at if category == "done" else None,
            "assignee_developer_id": None,
            "assignee_alias_id": None,
            "source_id": None,
            "stale_dismissed_at": None,
            "stale_flagged_at": None,
        }
    item.update(
        title=snapshot.title,
        item_type=snapshot.item_type,
        url=snapshot.url,
        sprint_ids=list(snapshot.sprint_ids),
        deleted_at=None,
    )
    since = item["state_since"]
    assert isinstance(since, datetime)
    if since <= change.at:  # the status (and who has it, from where) only moves forward in time
        item.update(
            source_id=snapshot.source_id,
            assignee_developer_id=snapshot.assignee_developer_id,
            assignee_alias_id=snapshot.assignee_alias_id,
            status=change.to_status,
            status_category=change.to_category,
            state_since=change.at,
            done_at=change.at if change.to_category == "done" else None,
            stale_dismissed_at=None,
            stale_flagged_at=None,
        )
        if item["started_at"] is None and change.to_category != "todo":
            item["started_at"] = change.at
    return True


def _scope(tenant_id: UUID, workspace_ids: list[UUID]) -> sa.ColumnElement[bool]:
    """The application's own tenant filter (RLS is the second wall)."""
    t = work_items
    return (
        (t.c.tenant_id == tenant_id)
        & t.c.workspace_id.in_(workspace_ids)
        & t.c.deleted_at.is_(None)
    )


async def done_per_week(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_ids: list[UUID],
    item_types: list[str] | None,
    since: datetime,
) -> dict[date, int]:
    """Items in scope done per (UTC, Monday) week since ``since``, soft-deleted items
    excluded: counted by PostgreSQL, so years of history cost a row a week, not an item."""
    t = work_items
    week = sa.cast(sa.func.date_trunc("week", sa.func.timezone("UTC", t.c.done_at)), sa.Date)
    query = (
        sa.select(week, sa.func.count())
        .where(_scope(tenant_id, workspace_ids) & (t.c.done_at >= since))
        .group_by(week)
    )
    if item_types:
        query = query.where(t.c.item_type.in_(item_types))
    return {monday: count for monday, count in (await session.execute(query)).all()}


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

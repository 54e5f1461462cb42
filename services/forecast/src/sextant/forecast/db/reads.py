"""The read API's queries: work items and sprints as a caller lists and opens them.

Lists run newest first and page by keyset: a cursor holds the id of the last row given
out, and the next page starts after that row's place in the order. An id that is not a
row of this list in this scope (another list's cursor, another tenant's, a forged one)
is refused before the page is read. Every query filters by tenant and scope itself;
row-level security is the second wall.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.forecast.db import sprint_items, sprints, transitions, work_items
from sextant.runtime.errors import InvalidInput

SprintState = Literal["active", "closed", "future"]

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""Where a sprint with no start date sorts: after every dated one (newest first)."""


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[since, before)``; either end may be open."""

    since: datetime | None = None
    before: datetime | None = None

    def where(self, column: sa.ColumnElement[datetime]) -> list[sa.ColumnElement[bool]]:
        found = []
        if self.since is not None:
            found.append(column >= self.since)
        if self.before is not None:
            found.append(column < self.before)
        return found


@dataclass(frozen=True)
class WorkItemFilter:
    status_categories: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    item_types: list[str] = field(default_factory=list)
    assignee: UUID | None = None
    sprint: SprintRow | None = None
    created: Window = Window()
    status_changed: Window = Window()
    resolved: Window = Window()


@dataclass(frozen=True)
class WorkItemRow:
    id: UUID
    workspace_id: UUID
    key: str
    title: str
    item_type: str
    status: str
    status_category: str
    source_kind: str
    source_id: UUID | None
    external_id: str
    url: str | None
    assignee_developer_id: UUID | None
    created_at: datetime
    started_at: datetime | None
    resolved_at: datetime | None
    status_changed_at: datetime
    stale_flagged_at: datetime | None
    stale_dismissed_at: datetime | None
    sprint_ids: list[str]


@dataclass(frozen=True)
class TransitionRow:
    from_status: str | None
    to_status: str
    to_category: str
    at: datetime


@dataclass(frozen=True)
class SprintRow:
    id: UUID
    workspace_id: UUID
    source_sprint_id: str
    name: str
    state: SprintState
    starts_at: datetime | None
    ends_at: datetime | None
    closed_at: datetime | None


# work items ------------------------------------------------------------------------------

_W = work_items
_ITEM_COLUMNS = (
    _W.c.id,
    _W.c.workspace_id,
    _W.c.key,
    _W.c.title,
    _W.c.item_type,
    _W.c.status,
    _W.c.status_category,
    _W.c.source_kind,
    _W.c.source_id,
    _W.c.external_id,
    _W.c.url,
    _W.c.assignee_developer_id,
    _W.c.created_at,
    _W.c.started_at,
    _W.c.done_at,
    _W.c.state_since,
    _W.c.stale_flagged_at,
    _W.c.stale_dismissed_at,
    _W.c.sprint_ids,
)


def _items_in(tenant_id: UUID, workspace_ids: list[UUID]) -> sa.ColumnElement[bool]:
    return (
        (_W.c.tenant_id == tenant_id)
        & _W.c.workspace_id.in_(workspace_ids)
        & _W.c.deleted_at.is_(None)
    )


def _in_sprint(sprint_workspace: UUID, source_sprint_id: str) -> sa.ColumnElement[bool]:
    """An item is in a sprint when the sprint's events list it or the item's own
    snapshot names the sprint (a tool may send only one of the two)."""
    listed = sa.select(sprint_items.c.key).where(
        (sprint_items.c.tenant_id == _W.c.tenant_id)
        & (sprint_items.c.workspace_id == sprint_workspace)
        & (sprint_items.c.sprint_id == source_sprint_id)
    )
    named = sa.literal(source_sprint_id) == sa.any_(_W.c.sprint_ids)
    return (_W.c.workspace_id == sprint_workspace) & (_W.c.key.in_(listed) | named)


def _item_filters(filters: WorkItemFilter) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = []
    if filters.status_categories:
        found.append(_W.c.status_category.in_(filters.status_categories))
    if filters.statuses:
        found.append(_W.c.status.in_(filters.statuses))
    if filters.item_types:
        found.append(_W.c.item_type.in_(filters.item_types))
    if filters.assignee is not None:
        found.append(_W.c.assignee_developer_id == filters.assignee)
    if filters.sprint is not None:
        found.append(_in_sprint(filters.sprint.workspace_id, filters.sprint.source_sprint_id))
    found += filters.created.where(_W.c.created_at)
    found += filters.status_changed.where(_W.c.state_since)
    found += filters.resolved.where(_W.c.done_at)
    return found


def _item(row: Sequence[Any]) -> WorkItemRow:
    return WorkItemRow(*tuple(row))


async def list_work_items(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_ids: list[UUID],
    filters: WorkItemFilter,
    limit: int,
    after: UUID | None,
) -> tuple[list[WorkItemRow], int]:
    """A page of the scope's items (newest created first) and how many match in all."""
    where = [_items_in(tenant_id, workspace_ids), *_item_filters(filters)]
    total = await session.scalar(sa.select(sa.func.count()).select_from(_W).where(*where))
    query = sa.select(*_ITEM_COLUMNS).where(*where)
    if after is not None:
        # The anchor may have been deleted since its page: its place in the order stands.
        anchor = (
            await session.execute(
                sa.select(_W.c.created_at).where(
                    (_W.c.tenant_id == tenant_id)
                    & _W.c.workspace_id.in_(workspace_ids)
                    & (_W.c.id == after)
                )
            )
        ).first()
        if anchor is None:
            raise _foreign_cursor()
        query = query.where(sa.tuple_(_W.c.created_at, _W.c.id) < sa.tuple_(anchor[0], after))
    rows = await session.execute(
        query.order_by(_W.c.created_at.desc(), _W.c.id.desc()).limit(limit)
    )
    return [_item(row) for row in rows], int(total or 0)


async def work_item(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID], item_id: UUID
) -> WorkItemRow | None:
    row = (
        await session.execute(
            sa.select(*_ITEM_COLUMNS).where(_items_in(tenant_id, workspace_ids), _W.c.id == item_id)
        )
    ).first()
    return None if row is None else _item(row)


async def status_history(
    session: AsyncSession, tenant_id: UUID, item: WorkItemRow
) -> list[TransitionRow]:
    """The item's status changes, oldest first (its creation is the first)."""
    h = transitions
    rows = await session.execute(
        sa.select(h.c.from_status, h.c.to_status, h.c.to_category, h.c.at)
        .where(
            (h.c.tenant_id == tenant_id)
            & (h.c.workspace_id == item.workspace_id)
            & (h.c.key == item.key)
        )
        .order_by(h.c.at, h.c.id)
    )
    return [TransitionRow(*row) for row in rows]


async def sprints_of(
    session: AsyncSession, tenant_id: UUID, item: WorkItemRow, now: datetime
) -> list[SprintRow]:
    """The sprints the item is or was in (by the sprint's events or its own snapshot)."""
    s = sprints
    listed = sa.select(sprint_items.c.sprint_id).where(
        (sprint_items.c.tenant_id == tenant_id)
        & (sprint_items.c.workspace_id == item.workspace_id)
        & (sprint_items.c.key == item.key)
    )
    rows = await session.execute(
        _sprint_select(now)
        .where(
            (s.c.tenant_id == tenant_id)
            & (s.c.workspace_id == item.workspace_id)
            & (s.c.sprint_id.in_(listed) | s.c.sprint_id.in_(item.sprint_ids))
        )
        .order_by(_sprint_order_key().desc(), s.c.id.desc())
    )
    return [_sprint_row(row) for row in rows]


# sprints ---------------------------------------------------------------------------------


def _sprint_state(now: datetime) -> sa.ColumnElement[str]:
    """Closed once closed; future while its start lies ahead; active otherwise (forecast
    learns of a sprint when it starts, so a sprint without a start date has started)."""
    s = sprints
    return sa.case(
        (s.c.closed_at.is_not(None), "closed"),
        (s.c.starts_at > now, "future"),
        else_="active",
    )


def _sprint_order_key() -> sa.ColumnElement[datetime]:
    return sa.func.coalesce(sprints.c.starts_at, sa.literal(NEVER, sa.DateTime(timezone=True)))


def _sprint_select(now: datetime) -> sa.Select[Any]:
    s = sprints
    return sa.select(
        s.c.id,
        s.c.workspace_id,
        s.c.sprint_id,
        s.c.name,
        _sprint_state(now),
        s.c.starts_at,
        s.c.ends_at,
        s.c.closed_at,
    )


def _sprint_row(row: Sequence[Any]) -> SprintRow:
    return SprintRow(*tuple(row))


async def list_sprints(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_ids: list[UUID],
    states: list[SprintState],
    starts: Window,
    ends: Window,
    now: datetime,
    limit: int,
    after: UUID | None,
) -> tuple[list[SprintRow], int]:
    """A page of the scope's sprints (latest start first) and how many match in all."""
    s = sprints
    where = [(s.c.tenant_id == tenant_id), s.c.workspace_id.in_(workspace_ids)]
    where += starts.where(s.c.starts_at) + ends.where(s.c.ends_at)
    if states:
        where.append(_sprint_state(now).in_(states))
    total = await session.scalar(sa.select(sa.func.count()).select_from(s).where(*where))
    query = _sprint_select(now).where(*where)
    if after is not None:
        anchor = (
            await session.execute(
                sa.select(_sprint_order_key()).where(
                    (s.c.tenant_id == tenant_id)
                    & s.c.workspace_id.in_(workspace_ids)
                    & (s.c.id == after)
                )
            )
        ).first()
        if anchor is None:
            raise _foreign_cursor()
        query = query.where(sa.tuple_(_sprint_order_key(), s.c.id) < sa.tuple_(anchor[0], after))
    rows = await session.execute(
        query.order_by(_sprint_order_key().desc(), s.c.id.desc()).limit(limit)
    )
    return [_sprint_row(row) for row in rows], int(total or 0)


async def sprint(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_ids: list[UUID],
    sprint_id: UUID,
    now: datetime,
) -> SprintRow | None:
    s = sprints
    row = (
        await session.execute(
            _sprint_select(now).where(
                (s.c.tenant_id == tenant_id)
                & s.c.workspace_id.in_(workspace_ids)
                & (s.c.id == sprint_id)
            )
        )
    ).first()
    return None if row is None else _sprint_row(row)


async def sprint_item_counts(
    session: AsyncSession, tenant_id: UUID, found: SprintRow
) -> dict[str, int]:
    """How many of the sprint's (undeleted) items are in each status category."""
    rows = await session.execute(
        sa.select(_W.c.status_category, sa.func.count())
        .where(
            _items_in(tenant_id, [found.workspace_id]),
            _in_sprint(found.workspace_id, found.source_sprint_id),
        )
        .group_by(_W.c.status_category)
    )
    counts = Counter({"todo": 0, "in_progress": 0, "done": 0})
    counts.update({category: int(n) for category, n in rows})
    return dict(counts)


def _foreign_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this list gave out for this scope", parameter="cursor")


async def sprint_by_source(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    source_sprint_id: str,
    now: datetime,
) -> SprintRow:
    """The sprint the tool calls ``source_sprint_id`` in a workspace (known to exist)."""
    s = sprints
    row = (
        await session.execute(
            _sprint_select(now).where(
                (s.c.tenant_id == tenant_id)
                & (s.c.workspace_id == workspace_id)
                & (s.c.sprint_id == source_sprint_id)
            )
        )
    ).one()
    return _sprint_row(row)

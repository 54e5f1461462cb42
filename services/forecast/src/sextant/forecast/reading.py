"""The read API's use cases: check the filters, read a page, shape the reply."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.forecast.db import reads
from sextant.forecast.schemas import (
    SprintDetail,
    SprintList,
    SprintSummary,
    StatusChange,
    WorkItemDetail,
    WorkItemList,
    WorkItemSummary,
)
from sextant.runtime.errors import InvalidInput, NotFound
from sextant.runtime.paging import after_id, next_cursor
from sextant.runtime.scope import QueryScope


def window(since: datetime | None, before: datetime | None, name: str) -> reads.Window:
    """``[since, before)`` from ``<name>_since`` and ``<name>_before``; an empty or
    inverted range is a mistake, not a question whose answer is nothing."""
    if since is not None and before is not None and since >= before:
        raise InvalidInput(
            f"{name}_since ({since.isoformat()}) must be before "
            f"{name}_before ({before.isoformat()})",
            parameter=f"{name}_since",
        )
    return reads.Window(since, before)


async def sprint_in_scope(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    sprint_id: UUID,
    now: datetime,
    parameter: str = "sprint_id",
) -> reads.SprintRow:
    found = await reads.sprint(session, tenant, scope.workspaces, sprint_id, now)
    if found is None:
        raise NotFound(f"no sprint {sprint_id} in {scope.text}", parameter=parameter)
    return found


def _item(row: reads.WorkItemRow) -> WorkItemSummary:
    return WorkItemSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        key=row.key,
        title=row.title,
        item_type=row.item_type,
        status=row.status,
        status_category=row.status_category,
        source_kind=row.source_kind,
        source_id=row.source_id,
        external_id=row.external_id,
        url=row.url,
        assignee_developer_id=row.assignee_developer_id,
        created_at=row.created_at,
        started_at=row.started_at,
        resolved_at=row.resolved_at,
        status_changed_at=row.status_changed_at,
        stale=row.stale_flagged_at is not None and row.stale_dismissed_at is None,
        stale_flagged_at=row.stale_flagged_at,
        stale_dismissed_at=row.stale_dismissed_at,
    )


def _sprint(row: reads.SprintRow) -> SprintSummary:
    return SprintSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        source_sprint_id=row.source_sprint_id,
        name=row.name,
        state=row.state,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        closed_at=row.closed_at,
    )


async def work_item_page(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    filters: reads.WorkItemFilter,
    limit: int,
    cursor: str | None,
) -> WorkItemList:
    rows, total = await reads.list_work_items(
        session, tenant, scope.workspaces, filters, limit, after_id(cursor)
    )
    return WorkItemList(
        items=[_item(row) for row in rows],
        total=total,
        next_cursor=next_cursor(rows, limit, lambda row: row.id),
    )


async def work_item_detail(
    session: AsyncSession, tenant: UUID, scope: QueryScope, item_id: UUID, now: datetime
) -> WorkItemDetail:
    row = await reads.work_item(session, tenant, scope.workspaces, item_id)
    if row is None:
        raise NotFound(f"no work item {item_id} in {scope.text}", parameter="item_id")
    history = await reads.status_history(session, tenant, row)
    in_sprints = await reads.sprints_of(session, tenant, row, now)
    return WorkItemDetail(
        **_item(row).model_dump(),
        status_history=[
            StatusChange(
                from_status=h.from_status, to_status=h.to_status, to_category=h.to_category, at=h.at
            )
            for h in history
        ],
        sprints=[_sprint(s) for s in in_sprints],
    )


async def sprint_page(
    session: AsyncSession,
    tenant: UUID,
    scope: QueryScope,
    states: list[reads.SprintState],
    starts: reads.Window,
    ends: reads.Window,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> SprintList:
    rows, total = await reads.list_sprints(
        session, tenant, scope.workspaces, states, starts, ends, now, limit, after_id(cursor)
    )
    return SprintList(
        items=[_sprint(row) for row in rows],
        total=total,
        next_cursor=next_cursor(rows, limit, lambda row: row.id),
    )


async def sprint_detail(
    session: AsyncSession, tenant: UUID, scope: QueryScope, sprint_id: UUID, now: datetime
) -> SprintDetail:
    found = await sprint_in_scope(session, tenant, scope, sprint_id, now)
    counts = await reads.sprint_item_counts(session, tenant, found)
    return SprintDetail(**_sprint(found).model_dump(), items=counts)

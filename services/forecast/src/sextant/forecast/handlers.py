"""Forecast's event handlers: project work items from attributed activity.

Each runs inside the runtime's transaction with the inbox already claimed. Both are
:class:`~sextant.runtime.consumer.Batched`: a backlog is projected a batch of one tenant's
events at a time, in order, in one transaction (a batch that fails is handled again one
event at a time by the runtime, so retries and the DLQ stay per event).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, data_model_for
from sextant.contracts.events.activity import (
    SprintClosed,
    SprintScopeChanged,
    SprintStarted,
    WorkItem,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, IDENTITY
from sextant.forecast.db import details, repository
from sextant.runtime.consumer import Batched, Handler, each_in_context


def _snapshot(item: WorkItem) -> repository.ItemSnapshot:
    return repository.ItemSnapshot(
        key=item.key,
        source_kind=item.source.kind,
        external_id=item.source.external_id,
        url=item.source.url,
        title=item.title,
        item_type=item.item_type,
        status=item.status,
        status_category=item.status_category,
        created_at=item.created_at,
        sprint_ids=list(item.sprint_ids),
    )


async def on_attributed_activity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Keep the work-item projection (snapshots, status history, soft deletes) for a
    batch of one tenant's events, in order; each workspace is remembered once a batch."""
    remembered: set[UUID] = set()
    for envelope in each_in_context(envelopes):
        attributed = ActivityAttributed.model_validate(envelope.data)
        forecast_input = (
            ".work_item." in attributed.original_type or ".sprint." in attributed.original_type
        )
        if not forecast_input or envelope.workspaceid is None:
            continue  # change requests, builds, … are not forecast inputs (yet)
        if envelope.workspaceid not in remembered:
            await repository.remember_scope(session, envelope.tenantid, envelope.workspaceid)
            remembered.add(envelope.workspaceid)
        await _project(session, envelope.tenantid, envelope.workspaceid, attributed)


async def _project(
    session: AsyncSession, tenant: UUID, workspace: UUID, attributed: ActivityAttributed
) -> None:
    """One work-item or sprint event of ``workspace`` into the projection."""
    event = data_model_for(attributed.original_type).model_validate(attributed.original)
    if isinstance(
        event, WorkItemCreated | WorkItemTransitioned | WorkItemResolved
    ) and await repository.change_recorded(session, attributed.original_id):
        return  # a copy of a change already applied, redelivered after the inbox forgot it
    if isinstance(event, SprintStarted | SprintScopeChanged | SprintClosed):
        sprint = event.sprint
        sprint_id = sprint.source.external_id
        await repository.record_sprint(
            session, tenant, workspace, sprint_id, sprint.name, sprint.starts_at, sprint.ends_at
        )
        if isinstance(event, SprintStarted):
            await repository.change_sprint_scope(
                session, tenant, workspace, sprint_id, list(event.item_keys), []
            )
        elif isinstance(event, SprintScopeChanged):
            await repository.change_sprint_scope(
                session,
                tenant,
                workspace,
                sprint_id,
                list(event.added_keys),
                list(event.removed_keys),
            )
        else:
            await repository.close_sprint(session, tenant, workspace, sprint_id, event.occurred_at)
    elif isinstance(event, WorkItemCreated):
        item = event.work_item
        await repository.record_snapshot(
            session, tenant, workspace, _snapshot(item), event.occurred_at
        )
        # Creation is entering the first status: the history starts here.
        await repository.record_transition(
            session,
            tenant,
            workspace,
            item.key,
            from_status=None,
            to_status=item.status,
            to_category=item.status_category,
            at=event.occurred_at,
            event_id=attributed.original_id,
        )
    elif isinstance(event, WorkItemTransitioned):
        await repository.record_snapshot(
            session, tenant, workspace, _snapshot(event.work_item), event.occurred_at
        )
        await repository.record_transition(
            session,
            tenant,
            workspace,
            event.work_item.key,
            from_status=event.from_status,
            to_status=event.to_status,
            to_category=event.to_category,
            at=event.occurred_at,
            event_id=attributed.original_id,
        )
    elif isinstance(event, WorkItemResolved):
        item = event.work_item
        await repository.record_snapshot(
            session, tenant, workspace, _snapshot(item), event.occurred_at
        )
        await repository.record_transition(
            session,
            tenant,
            workspace,
            item.key,
            from_status=None,
            to_status=item.status,
            to_category="done",
            at=event.occurred_at,
            event_id=attributed.original_id,
        )
    elif isinstance(event, WorkItemDeleted):
        await repository.mark_deleted(session, tenant, workspace, event.key, event.occurred_at)
    if isinstance(event, WorkItemCreated | WorkItemTransitioned | WorkItemResolved):
        await details.record_details(
            session,
            tenant,
            workspace,
            event.work_item,
            details.assignee_of(attributed),
            event.occurred_at,
        )


async def on_identity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Follow developer merges and splits (per-developer views come with a later issue)."""


HANDLERS: dict[str, Handler] = {
    ACTIVITY_ATTRIBUTED.name: Batched(on_attributed_activity),
    IDENTITY.name: Batched(on_identity),
}

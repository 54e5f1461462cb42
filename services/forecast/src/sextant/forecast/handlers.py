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
from sextant.contracts.events.platform import (
    ActivityAttributed,
    AliasMoved,
    DevelopersMerged,
    DeveloperSplit,
)
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, IDENTITY
from sextant.forecast.db import repository
from sextant.runtime.consumer import Batched, Handler, each_in_context

ASSIGNEE_PATH = "work_item.assignee"
"""Where identity's attribution names the assignee in a work-item event."""


def assignee_of(attributed: ActivityAttributed) -> tuple[UUID | None, UUID | None]:
    """The developer the event's work item is assigned to and the alias identity knew the
    assignee by; (None, None) when unassigned."""
    for attribution in attributed.attributions:
        if attribution.path == ASSIGNEE_PATH:
            return attribution.developer_id, attribution.alias_id
    return None, None


def _snapshot(item: WorkItem, assignee: tuple[UUID | None, UUID | None]) -> repository.ItemSnapshot:
    return repository.ItemSnapshot(
        key=item.key,
        source_id=item.source.source_id,
        assignee_developer_id=assignee[0],
        assignee_alias_id=assignee[1],
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
    batch of one tenant's events, in order: the batch's work-item events are applied
    together in a few statements (the repository keeps each item's events in order), its
    sprint events one at a time (they touch only the sprint tables); each workspace is
    remembered once a batch."""
    remembered: set[UUID] = set()
    changes: list[repository.ItemChange] = []
    tenant = envelopes[0].tenantid if envelopes else None
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
        event = data_model_for(attributed.original_type).model_validate(attributed.original)
        if isinstance(event, SprintStarted | SprintScopeChanged | SprintClosed):
            await _project_sprint(session, envelope.tenantid, envelope.workspaceid, event)
        elif (change := _item_change(envelope.workspaceid, attributed, event)) is not None:
            changes.append(change)
    if tenant is not None:
        await repository.apply_item_changes(session, tenant, changes)


def _item_change(
    workspace: UUID, attributed: ActivityAttributed, event: object
) -> repository.ItemChange | None:
    """A work-item event as the repository applies it (creation is entering the first
    status: the history starts there; resolving is entering a done status)."""
    if isinstance(event, WorkItemCreated):
        item = event.work_item
        from_status, to_status, to_category = None, item.status, item.status_category
    elif isinstance(event, WorkItemTransitioned):
        item = event.work_item
        from_status, to_status, to_category = event.from_status, event.to_status, event.to_category
    elif isinstance(event, WorkItemResolved):
        item = event.work_item
        from_status, to_status, to_category = None, item.status, "done"
    elif isinstance(event, WorkItemDeleted):
        return repository.ItemChange(workspace_id=workspace, key=event.key, at=event.occurred_at)
    else:
        return None
    return repository.ItemChange(
        workspace_id=workspace,
        key=item.key,
        at=event.occurred_at,
        snapshot=_snapshot(item, assignee_of(attributed)),
        event_id=attributed.original_id,
        from_status=from_status,
        to_status=to_status,
        to_category=to_category,
    )


async def _project_sprint(
    session: AsyncSession,
    tenant: UUID,
    workspace: UUID,
    event: SprintStarted | SprintScopeChanged | SprintClosed,
) -> None:
    """One sprint event of ``workspace`` into the projection."""
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
            session, tenant, workspace, sprint_id, list(event.added_keys), list(event.removed_keys)
        )
    else:
        await repository.close_sprint(session, tenant, workspace, sprint_id, event.occurred_at)


async def on_identity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Assignees follow identity: a merge reassigns the merged developers' items to the
    survivor (and maps later events naming them); a split or a moved alias hands the items
    assigned through its aliases to their new developer."""
    for envelope in each_in_context(envelopes):
        tenant = envelope.tenantid
        event = data_model_for(envelope.type).model_validate(envelope.data)
        if isinstance(event, DevelopersMerged):
            await repository.merge_developers(session, tenant, event.survivor_id, event.merged_ids)
        elif isinstance(event, DeveloperSplit):
            await repository.hand_over_aliases(
                session, tenant, event.alias_ids, event.new_developer_id
            )
        elif isinstance(event, AliasMoved):
            await repository.hand_over_aliases(
                session, tenant, [event.alias_id], event.to_developer_id
            )


HANDLERS: dict[str, Handler] = {
    ACTIVITY_ATTRIBUTED.name: Batched(on_attributed_activity),
    IDENTITY.name: Batched(on_identity),
}

"""What the read API shows of a work item beyond what forecasts need: the source
connection it came from and who it is assigned to, as identity resolved them. Kept apart
from the repository's projection writes (their batching is tuned on its own), and
applied like the status: an event older than the item's current state does not rewind
it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.activity import WorkItem
from sextant.contracts.events.platform import ActivityAttributed
from sextant.forecast.db import work_items

ASSIGNEE_PATH = "work_item.assignee"
"""Where identity's attribution names the assignee in a work-item event."""


def assignee_of(attributed: ActivityAttributed) -> UUID | None:
    """The developer the event's work item is assigned to; None when unassigned."""
    for attribution in attributed.attributions:
        if attribution.path == ASSIGNEE_PATH:
            return attribution.developer_id
    return None


async def record_details(
    session: AsyncSession,
    tenant_id: UUID,
    workspace_id: UUID,
    item: WorkItem,
    assignee: UUID | None,
    at: datetime,
) -> None:
    """The item's source connection and assignee as of ``at``, unless the item already
    moved past ``at``."""
    t = work_items
    await session.execute(
        sa.update(t)
        .where(
            (t.c.tenant_id == tenant_id)
            & (t.c.workspace_id == workspace_id)
            & (t.c.key == item.key)
            & (t.c.state_since <= at)
        )
        .values(source_id=item.source.source_id, assignee_developer_id=assignee)
    )

"""Forecast's rows under retention: work items' history (done items by when they were
done, status moves by when they moved), purged when the archive asks. Open items stay
(their ``done_at`` is NULL, in no range). Items deleted in their tool (``deleted_at``) are
purged, with their status moves and sprint memberships, once the archive asks for the
``deleted_work_items`` class (their grace period over, their events' copy verified).

A scope purge deletes every row of the tenant, or of the workspace, from every table: work
items, their status moves, sprints and sprint memberships (whether or not their item is
still here), the stale scan's list of scopes, and — on a tenant's purge — its developers'
merges (they have no workspace)."""

from sextant.contracts.events.platform import DELETED_WORK_ITEMS
from sextant.forecast.db import (
    developer_merges,
    known_scopes,
    spine,
    sprint_items,
    sprints,
    transitions,
    work_items,
)
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

ITEM = ("tenant_id", "workspace_id", "key")
DELETED_ITEMS = PurgeTable(
    work_items,
    DELETED_WORK_ITEMS,
    time_column="deleted_at",
    workspace_column="workspace_id",
    developer_column="assignee_developer_id",
    lifetime=True,
    since_column="created_at",
)
PURGER = Purger(
    "forecast",
    Outbox(spine.outbox, source="/sextant/forecast"),
    [
        PurgeTable(
            work_items,
            "work_items",
            time_column="done_at",
            workspace_column="workspace_id",
            developer_column="assignee_developer_id",
        ),
        PurgeTable(transitions, "work_items", time_column="at", workspace_column="workspace_id"),
        DELETED_ITEMS,
        PurgeTable(
            transitions,
            DELETED_WORK_ITEMS,
            workspace_column="workspace_id",
            item_of=(DELETED_ITEMS, ITEM),
        ),
        PurgeTable(
            sprint_items,
            DELETED_WORK_ITEMS,
            workspace_column="workspace_id",
            item_of=(DELETED_ITEMS, ITEM),
        ),
        *(
            PurgeTable(table, None, workspace_column="workspace_id")
            for table in (sprints, sprint_items, known_scopes)
        ),
        PurgeTable(developer_merges, None),
    ],
)

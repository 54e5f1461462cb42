"""Forecast's rows under retention: work items' history (done items by when they were
done, status moves by when they moved), purged when the archive asks. Open items stay
(their ``done_at`` is NULL, in no range)."""

from sextant.forecast.db import spine, transitions, work_items
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

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
    ],
)

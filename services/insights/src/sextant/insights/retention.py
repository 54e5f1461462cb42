"""Insights' rows under retention: the projections, each row timed by the latest event it
reflects, purged when the archive asks. The daily rollup (developer_days) and the gates'
tables are not declared: they stay hot, so developer trends survive the purge of the events
behind them. DORA has no rollup (each call picks its definition and attribution window), so
a class purge keeps what DORA reads of the rows it deletes: the production deployments', the
shipped changes' and the incidents' facts move into ``kept_*`` in the deleting statement
(:class:`Keep`), declared with no class so only a scope purge (a deleted tenant or
workspace) deletes them; DORA for a period past the hot period of change requests and
deployments stays what it was. Work items deleted in their tool (``deleted_at``) go when
the archive asks for the ``deleted_work_items`` class; their row has no creation time, so a
hold whose range starts before the deletion keeps them."""

from sextant.contracts.events.platform import DELETED_WORK_ITEMS
from sextant.insights.db import (
    builds,
    change_requests,
    commits,
    deployments,
    incidents,
    kept_changes,
    kept_deployments,
    kept_incidents,
    pushes,
    reviews,
    spine,
    work_items,
)
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Keep, Purger, PurgeTable

WS = "workspace_id"
PURGER = Purger(
    "insights",
    Outbox(spine.outbox, source="/sextant/insights"),
    [
        PurgeTable(
            change_requests,
            "change_requests",
            time_column="snapshot_at",
            workspace_column=WS,
            developer_column="author_developer_id",
            keep=Keep(kept_changes, change_requests.c.deployment_id.is_not(None)),
        ),
        PurgeTable(
            reviews,
            "change_requests",
            time_column="submitted_at",
            workspace_column=WS,
            developer_column="reviewer_developer_id",
        ),
        PurgeTable(
            commits,
            "change_requests",
            time_column="pushed_at",
            workspace_column=WS,
            developer_column="author_developer_id",
        ),
        PurgeTable(
            pushes,
            "change_requests",
            time_column="pushed_at",
            workspace_column=WS,
            developer_column="pusher_developer_id",
        ),
        PurgeTable(
            deployments,
            "deployments",
            time_column="status_at",
            workspace_column=WS,
            developer_column="deployed_by_developer_id",
            keep=Keep(kept_deployments, deployments.c.is_production),
        ),
        PurgeTable(
            builds,
            "deployments",
            time_column="finished_at",
            workspace_column=WS,
            developer_column="triggered_by_developer_id",
        ),
        PurgeTable(
            incidents,
            "deployments",
            time_column="snapshot_at",
            workspace_column=WS,
            keep=Keep(kept_incidents),
        ),
        PurgeTable(kept_changes, None, workspace_column=WS, developer_column="author_developer_id"),
        PurgeTable(kept_deployments, None, workspace_column=WS),
        PurgeTable(kept_incidents, None, workspace_column=WS),
        PurgeTable(
            work_items,
            "work_items",
            time_column="done_at",  # open items stay
            workspace_column=WS,
            developer_column="assignee_developer_id",
        ),
        PurgeTable(
            work_items,
            DELETED_WORK_ITEMS,
            time_column="deleted_at",
            workspace_column=WS,
            developer_column="assignee_developer_id",
            lifetime=True,
        ),
    ],
)

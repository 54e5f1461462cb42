"""Insights' rows under retention: the projections, each row timed by the latest event it
reflects, purged when the archive asks. The daily rollup (developer_days) and the gates'
tables are of no class: they stay hot, so developer trends survive the purge of the events
behind them. DORA has no rollup (each call picks its definition and attribution window), so
a class purge keeps what DORA reads of the rows it deletes: the production deployments', the
shipped changes' and the incidents' facts move into ``kept_*`` in the deleting statement
(:class:`Keep`), declared with no class so only a scope purge (a deleted tenant or
workspace) deletes them; DORA for a period past the hot period of change requests and
deployments stays what it was. Work items deleted in their tool (``deleted_at``) go when
the archive asks for the ``deleted_work_items`` class; their row has no creation time, so a
hold whose range starts before the deletion keeps them.

A scope purge (a soft-deleted tenant or workspace past its grace period) deletes every row
of the tenant from every table here, of no class for the rest: the rollups, the alias map,
teams, memberships, user links and settings, the gates' policies and evaluations, the team
health runs, suggestions and their feedback, and the queues. A workspace's purge deletes
the rows of the tables that name the workspace, the health queue's and feedback's rows
of its runs and suggestions, and its gate policy's versions (their scope names it in text:
:func:`scope_purged`); the rest are the tenant's, across workspaces, and stay until the
tenant goes. None of them lists workspaces: ``developer_days``, settings, the alias map,
teams and user links name none, and a view's gate policy names the view, not its
workspaces."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import DELETED_WORK_ITEMS
from sextant.insights.db import (
    builds,
    change_requests,
    commits,
    deployment_changes,
    deployments,
    developer_day_rows,
    developers,
    incidents,
    kept_changes,
    kept_deployments,
    kept_incidents,
    pushes,
    reviews,
    spine,
    team_memberships,
    team_rows,
    tenant_settings,
    user_links,
    work_items,
)
from sextant.insights.db.day_queue import metrics_queue
from sextant.insights.db.derivation_queue import derivation_queue
from sextant.insights.gates.db import delete_workspace_policies, gate_evaluations, gate_policies
from sextant.insights.health.db import (
    health_acceptance,
    health_queue,
    health_runs,
    health_schedules,
    health_stale,
    health_tokens,
    suggestion_feedback,
    suggestions,
)
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Keep, Purger, PurgeTable

WS = "workspace_id"
DEV = "developer_id"
RUNS = PurgeTable(health_runs, None, time_column="created_at", workspace_column=WS)
SUGGESTIONS = PurgeTable(suggestions, None, time_column="created_at", workspace_column=WS)


async def scope_purged(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """A workspace's gate policies go with it (a tenant's go with its declared rows)."""
    return 0 if workspace is None else await delete_workspace_policies(session, tenant, workspace)


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
        # of no class: only a scope purge deletes them (the rollup and the tenant's own
        # rows outlive the projections' hot period)
        PurgeTable(deployment_changes, None, workspace_column=WS),
        PurgeTable(developer_day_rows, None, developer_column=DEV),
        PurgeTable(developers, None, developer_column=DEV),
        PurgeTable(team_rows, None),
        PurgeTable(team_memberships, None, developer_column=DEV),
        PurgeTable(user_links, None, developer_column=DEV),
        PurgeTable(tenant_settings, None),
        PurgeTable(gate_policies, None, time_column="created_at"),
        PurgeTable(gate_evaluations, None, time_column="evaluated_at", workspace_column=WS),
        RUNS,
        SUGGESTIONS,
        PurgeTable(suggestion_feedback, None, time_column="at"),
        PurgeTable(
            suggestion_feedback,
            None,
            item_of=(SUGGESTIONS, ("tenant_id", "suggestion_id")),
            item_columns=("tenant_id", "id"),
        ),
        PurgeTable(health_schedules, None, workspace_column=WS),
        PurgeTable(health_stale, None, time_column="flagged_at", workspace_column=WS),
        PurgeTable(health_acceptance, None),
        PurgeTable(health_tokens, None),
        # the queues, a tenant's purge; a workspace's: its repositories' and its runs'
        PurgeTable(metrics_queue, None),
        PurgeTable(derivation_queue, None, workspace_column=WS),
        PurgeTable(health_queue, None),
        PurgeTable(
            health_queue,
            None,
            item_of=(RUNS, ("tenant_id", "run_id")),
            item_columns=("tenant_id", "id"),
        ),
    ],
    on_scope_purged=scope_purged,
)

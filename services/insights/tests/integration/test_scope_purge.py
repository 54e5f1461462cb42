"""A purged workspace, then its tenant, leaves no row in any insights table: the
projections and DORA's kept facts, the rollups, alias map, teams, user links and settings,
the gates' and team health's rows, and the queues; another workspace's and another
tenant's rows stay."""

from dataclasses import replace

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.insights.main import SPEC
from sextant.insights.retention import PURGER
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing

# the tables naming the workspace, and the rows of its health runs and suggestions
PER_WORKSPACE = {
    "change_requests",
    "reviews",
    "commits",
    "pushes",
    "builds",
    "deployments",
    "deployment_changes",
    "incidents",
    "work_items",
    "kept_changes",
    "kept_deployments",
    "kept_incidents",
    "gate_evaluations",
    "health_runs",
    "health_queue",
    "health_schedules",
    "health_stale",
    "suggestions",
    "suggestion_feedback",
    "derivation_queue",
}
# the workers off: they would take the queues' rows this test counts
QUIET = replace(SPEC, on_start=(), on_stop=())


async def test_a_purged_scope_leaves_no_row_in_insights(
    database_url: str, internal_keys: InternalKeys
) -> None:
    async with running_service(QUIET, service_settings(database_url, internal_keys)) as (_, state):
        await check_scope_purges_leave_nothing(
            state.db,
            SPEC.handlers[LIFECYCLE.name],
            PURGER,
            tenant=uuid7(),
            other=uuid7(),
            workspace_tables=PER_WORKSPACE,
        )

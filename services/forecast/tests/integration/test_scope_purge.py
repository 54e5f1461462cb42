"""A purged workspace, then its tenant, leaves no row in any forecast table: work items,
status moves, sprints, sprint memberships (their item gone or not), known scopes and
developer merges; another workspace's and another tenant's rows stay."""

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.forecast.main import SPEC
from sextant.forecast.retention import PURGER
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing

# every table but developer merges (a developer is the tenant's, across workspaces)
PER_WORKSPACE = {"work_items", "work_item_transitions", "sprints", "sprint_items", "known_scopes"}


async def test_a_purged_scope_leaves_no_row_in_forecast(
    database_url: str, internal_keys: InternalKeys
) -> None:
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (_, state):
        await check_scope_purges_leave_nothing(
            state.db,
            SPEC.handlers[LIFECYCLE.name],
            PURGER,
            tenant=uuid7(),
            other=uuid7(),
            workspace_tables=PER_WORKSPACE,
        )

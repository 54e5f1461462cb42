"""A purged workspace, then its tenant, leaves no row in any insights table: the
projections and DORA's kept facts, the rollups, alias map, teams, user links and settings,
the gates' and team health's rows, and the queues; another workspace's and another
tenant's rows stay. A workspace's gate policies (named in their scope's text) go with it;
another workspace's, a view's and another tenant's stay."""

from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.insights.gates.db import gate_policies
from sextant.insights.main import SPEC
from sextant.insights.retention import PURGER
from sextant.runtime.db import Database
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing, scope_purge

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
        await check_a_workspace_policy_goes_with_it(state.db)


async def check_a_workspace_policy_goes_with_it(db: Database) -> None:
    tenant, other, gone, kept, view = (uuid7() for _ in range(5))
    scopes = [
        (tenant, f"workspace:{gone}", 1),
        (tenant, f"workspace:{gone}", 2),
        (tenant, f"workspace:{kept}", 1),
        (tenant, f"view:{view}", 1),
        (other, f"workspace:{gone}", 1),
    ]
    at, engine = datetime.now(UTC), db.owner_engine()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(gate_policies),
                [
                    dict(tenant_id=t, scope=s, version=v, policy={}, created_by="a", created_at=at)
                    for t, s, v in scopes
                ],
            )
        async with db.transaction(tenant) as session:
            await SPEC.handlers[LIFECYCLE.name](session, scope_purge(tenant, gone))
        async with engine.connect() as conn:
            left = {
                (r.tenant_id, r.scope, r.version)
                for r in await conn.execute(
                    sa.select(gate_policies).where(gate_policies.c.tenant_id.in_([tenant, other]))
                )
            }
        assert left == set(scopes[2:])
    finally:
        await engine.dispose()

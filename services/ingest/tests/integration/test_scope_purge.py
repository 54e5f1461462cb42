"""A purged workspace, then its tenant, leaves no row in any ingest table: its sources
(sealed secrets and credentials), and every row of theirs — webhook routes, deliveries,
backfills, OAuth consents, grants and refreshes, check runs, commit lists and their
queues; another workspace's and another tenant's rows stay."""

from sextant.contracts import uuid7
from sextant.contracts.topics import LIFECYCLE
from sextant.ingest.main import SPEC
from sextant.ingest.retention import PURGER
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing

from .conftest import Ingest

# a workspace's: its sources and every row of theirs (all but the spine)
PER_WORKSPACE = {
    "sources",
    "hook_routes",
    "deliveries",
    "backfills",
    "oauth_states",
    "oauth_grants",
    "oauth_refreshes",
    "check_runs",
    "check_run_queue",
    "commit_lists",
    "commit_list_queue",
}


async def test_a_purged_scope_leaves_no_row_in_ingest(ingest: Ingest) -> None:
    await check_scope_purges_leave_nothing(
        ingest.state.db,
        SPEC.handlers[LIFECYCLE.name],
        PURGER,
        tenant=uuid7(),
        other=uuid7(),
        workspace_tables=PER_WORKSPACE,
    )

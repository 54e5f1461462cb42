"""Ingest's rows under retention: the raw deliveries, purged when the archive asks (after
the activity events they became are archived and verified), and the finished commit lists
with them — raw tool data too, timed by when their revision was published (``finished_at``;
pending and retrying lists have none, so they stay until they publish). Neither names its
workspace, their source does: a workspace hold keeps the deliveries and lists of that
workspace's sources, and those whose source row is missing (it cannot place them; a source
is only soft-deleted, and purged with its rows, so none should be).

A scope purge deletes every row of the tenant from every table: its sources (their sealed
secrets and credentials), webhook routes, deliveries, backfills, OAuth consents, grants and
refreshes, check runs and commit lists and their queues. A workspace's purge deletes its
sources and every row of theirs (only ``sources`` names the workspace: the others go as
the rows of a source)."""

import sqlalchemy as sa

from sextant.ingest.db import (
    backfills,
    check_run_queue,
    check_runs,
    commit_list_queue,
    commit_lists,
    deliveries,
    hook_routes,
    oauth_grants,
    oauth_refreshes,
    oauth_states,
    sources,
    spine,
)
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

SOURCES = PurgeTable(sources, None, workspace_column="workspace_id")
SOURCE = ("tenant_id", "id")
BY_SOURCE = (SOURCES, ("tenant_id", "source_id"), SOURCE)
"""A hold reaches a row naming its source through the source's workspace."""


def of_source(table: sa.Table) -> PurgeTable:
    """The table's rows of the sources a scope purge deletes (``source_id`` names one)."""
    return PurgeTable(
        table, None, item_of=(SOURCES, ("tenant_id", "source_id")), item_columns=SOURCE
    )


CHECK_RUNS = of_source(check_runs)
COMMIT_LISTS = of_source(commit_lists)
FINISHED_COMMIT_LISTS = PurgeTable(
    commit_lists,
    "raw_deliveries",
    time_column="finished_at",
    owner=BY_SOURCE,
)
OTHERS = (hook_routes, deliveries, backfills, oauth_states, oauth_grants, oauth_refreshes)

PURGER = Purger(
    "ingest",
    Outbox(spine.outbox, source="/sextant/ingest"),
    [
        PurgeTable(deliveries, "raw_deliveries", time_column="received_at", owner=BY_SOURCE),
        FINISHED_COMMIT_LISTS,
        PurgeTable(
            commit_list_queue,  # a finished list's row, were one left
            None,
            item_of=(FINISHED_COMMIT_LISTS, ("tenant_id", "commit_list_id")),
            item_columns=SOURCE,
        ),
        # a workspace's purge: the queues' rows before their check runs and commit lists,
        # those before their sources (items' rows go first, in this order)
        PurgeTable(
            check_run_queue,
            None,
            item_of=(CHECK_RUNS, ("tenant_id", "check_run_id")),
            item_columns=SOURCE,
        ),
        PurgeTable(
            commit_list_queue,
            None,
            item_of=(COMMIT_LISTS, ("tenant_id", "commit_list_id")),
            item_columns=SOURCE,
        ),
        CHECK_RUNS,
        COMMIT_LISTS,
        *(of_source(t) for t in OTHERS),
        # a tenant's purge: every row of it (the deliveries' and commit lists' class
        # declarations do that for theirs)
        *(
            PurgeTable(t, None)
            for t in (check_run_queue, commit_list_queue, check_runs, *OTHERS)
            if t is not deliveries
        ),
        SOURCES,
    ],
)

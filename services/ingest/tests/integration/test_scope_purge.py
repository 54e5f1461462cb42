"""A purged workspace, then its tenant, leaves no row in any ingest table: its sources
(sealed secrets and credentials), and every row of theirs — webhook routes, deliveries,
backfills, OAuth consents, grants and refreshes, check runs, commit lists and their
queues; another workspace's and another tenant's rows stay. A ``raw_deliveries`` purge of
a range deletes the deliveries received and the commit lists finished in it, but pending
lists, another tenant's rows and, in a hold's time, the rows of a held workspace's sources
and of a missing source (a hold keeps what it cannot place)."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE
from sextant.ingest.main import SPEC
from sextant.ingest.retention import PURGER
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing

from .conftest import OTHER_TENANT, TENANT, WORKSPACE, Ingest

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
    # the queue rows written below would be taken (and deleted) by a worker woken as its
    # listener connects, should that come after them
    for worker in ("check_run_poster", "commit_lister"):
        await ingest.state.extras[worker].stop()
    await check_scope_purges_leave_nothing(
        ingest.state.db,
        SPEC.handlers[LIFECYCLE.name],
        PURGER,
        tenant=uuid7(),
        other=uuid7(),
        workspace_tables=PER_WORKSPACE,
    )


def at(hour: int) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC)


async def test_a_raw_deliveries_purge_deletes_its_range_but_a_held_workspaces_rows(
    ingest: Ingest,
) -> None:
    held_workspace = uuid7()
    source, held_source, gone_source = uuid7(), uuid7(), uuid7()  # the last has no row
    for source_id, workspace in ((source, WORKSPACE), (held_source, held_workspace)):
        await ingest.sql(
            "INSERT INTO ingest.sources (tenant_id, id, workspace_id, kind, name, secret_sealed,"
            " mapping, created_at) VALUES ($1, $2, $3, 'github', 'gh', '\\x00', '{}', now())",
            TENANT,
            source_id,
            workspace,
        )
    lists: dict[str, tuple[UUID, str, datetime | None]] = {
        "finished-in-range": (source, "listed", at(12)),
        "failed-at-range-end": (source, "failed", at(17)),
        "finished-after-range": (source, "listed", at(18)),
        "pending-in-range": (source, "pending", None),  # tried and updated at 12, not done
        "held-workspace": (held_source, "listed", at(12)),
    }
    ids = {name: uuid7() for name in lists}
    for number, (name, (source_id, status, finished_at)) in enumerate(lists.items()):
        await ingest.sql(
            "INSERT INTO ingest.commit_lists (tenant_id, id, source_id, delivery_id, repository,"
            " number, status, attempts, commit_shas, created_at, updated_at, finished_at)"
            " VALUES ($1, $2, $3, $4, 'o/r', $5, $6, 1, '{}', $7, $8, $9)",
            TENANT,
            ids[name],
            source_id,
            uuid7(),
            number,
            status,
            at(10),
            at(12),
            finished_at,
        )
    deliveries = {  # the hold runs from 11 to 13
        "in-hold-time": (source, at(12)),
        "held-workspace": (held_source, at(12)),
        "held-workspace-after-hold": (held_source, at(14)),
        "gone-source": (gone_source, at(12)),
        "gone-source-after-hold": (gone_source, at(14)),
        "other-tenant": (uuid7(), at(14)),  # in range, but another tenant's
    }
    for name, (source_id, received_at) in deliveries.items():
        await ingest.sql(
            "INSERT INTO ingest.deliveries (tenant_id, id, source_id, delivery_id, received_at,"
            " body, body_codec, outcome, event_count) VALUES ($1, $2, $3, $4, $5, '\\x00',"
            " 'lz4', 'normalized', 1)",
            OTHER_TENANT if name == "other-tenant" else TENANT,
            uuid7(),
            source_id,
            name,
            received_at,
        )
    for name in ("finished-in-range", "pending-in-range"):  # a finished one's, were one left
        await ingest.sql(
            "INSERT INTO ingest.commit_list_queue (commit_list_id, tenant_id, due_at)"
            " VALUES ($1, $2, $3)",
            ids[name],
            TENANT,
            at(12),
        )
    request = PurgeRequested(
        manifest_id=uuid7(),
        data_class="raw_deliveries",
        not_before=at(9),
        older_than=at(17),
        holds=[
            PurgeHold(
                scope_kind="workspace", scope_id=held_workspace, starts_at=at(11), ends_at=at(13)
            )
        ],
    )
    envelope = Envelope.wrap(request, source="/sextant/archive", tenantid=TENANT, subject="m")
    async with ingest.state.db.transaction(TENANT) as session:
        await SPEC.handlers[LIFECYCLE.name](session, envelope)

    names = {v: k for k, v in ids.items()}
    left = await ingest.sql("SELECT id FROM ingest.commit_lists")
    assert sorted(names[r["id"]] for r in left) == [
        "finished-after-range",
        "held-workspace",
        "pending-in-range",
    ]
    queued = await ingest.sql("SELECT commit_list_id FROM ingest.commit_list_queue")
    assert [names[r["commit_list_id"]] for r in queued] == ["pending-in-range"]
    received = await ingest.sql("SELECT delivery_id FROM ingest.deliveries")
    assert sorted(r["delivery_id"] for r in received) == [
        "gone-source",
        "held-workspace",
        "other-tenant",
    ]
    # row-level security hid the other tenant's row; the purge's own predicate keeps it too
    engine = ingest.state.db.owner_engine()
    try:
        async with engine.begin() as conn:
            assert await PURGER.delete(AsyncSession(bind=conn), TENANT, request) == 0
            await conn.rollback()
    finally:
        await engine.dispose()

"""Reports' rows and files for the purge of a soft-deleted tenant: every job, the render
queue, schedules and their clock, file expiries, the rollup grants it gave and those given
to it (its transaction reads and deletes those: migration 0007), and in the object store its
rendered files and cover logo — queued in its transaction (:func:`forget_files`), deleted
once it committed (:func:`clear_forgotten`), so a purge rolled back keeps its reports' files.

No table has a workspace column (a job's or schedule's ``scope_workspaces`` is a list): a
workspace's purge keeps their rows but takes its id out of every list
(:func:`scope_purged`). A schedule left with none is paused — off the clock, audited as the
archive's — rather than left to fail every run; a job keeps its record whatever is left."""

from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import (
    deletions,
    file_expiry,
    render_queue,
    report_schedules,
    reports,
    repository,
    rollup_grants,
    schedule_clock,
    schedules,
    spine,
)
from sextant.reports.render import logo_key, report_prefix
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.db import Database
from sextant.runtime.objectstore import ObjectStore
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable

log = structlog.get_logger()

BATCH = 100  # prefixes cleared per transaction


async def forget_files(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """On a tenant's purge, queue its rendered files and logo for deletion from the object
    store (``object_deletions``, in the purge's transaction): deleting them here would
    leave a purge that then rolls back with reports whose files are gone. Objects are not
    rows: none counted."""
    if workspace is None:
        await deletions.queue(session, [report_prefix(tenant), logo_key(tenant)])
    return 0


async def clear_forgotten(db: Database, objects: ObjectStore | None) -> int:
    """Delete every object under each prefix committed transactions queued (a purge's, an
    expiry's, a render's whose job a purge took), then the prefix; one whose store call
    fails stays queued for the next pass (deleting is idempotent). How many were cleared."""
    if objects is None:  # no store to clear: the queue waits for a replica with one
        return 0
    cleared = 0
    while True:
        failed = False
        async with db.transaction() as session:
            batch = await deletions.pending(session, BATCH)
            for prefix in batch:
                try:
                    for key in await objects.list(prefix):
                        await objects.delete(key)
                except Exception as exc:
                    log.warning("reports.objects_not_deleted", prefix=prefix, error=str(exc))
                    failed = True
                    continue
                await deletions.done(session, prefix)
                cleared += 1
        if failed or len(batch) < BATCH:
            return cleared


async def scope_purged(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """Before the scope's rows go: a workspace leaves every job's and schedule's list (a
    schedule it leaves empty is paused, the pause audited); a tenant's files are queued to
    go. Nothing deleted here is counted."""
    if workspace is None:
        return await forget_files(session, tenant, workspace)
    paused = await schedules.drop_workspace(session, tenant, workspace)
    # after the schedules: a pass that held one's clock or row has committed its run's job
    await repository.drop_workspace(session, tenant, workspace)
    for schedule in paused:
        change = config_change(
            "archive",
            "reports.schedule.pause",
            ("report_schedule", schedule.id),
            before={"scope_workspaces": [str(workspace)], "paused_at": None},
            after={"scope_workspaces": [], "paused_at": schedule.paused_at.isoformat()},
        )
        await record_change(session, OUTBOX, tenant, change)
    return 0


OUTBOX = Outbox(spine.outbox, source="/sextant/reports")
PURGER = Purger(
    "reports",
    OUTBOX,
    [
        PurgeTable(table, None)
        for table in (
            render_queue,
            schedule_clock,
            file_expiry,
            reports,
            report_schedules,
            rollup_grants,
        )
    ]
    + [PurgeTable(rollup_grants, None, tenant_column="grantee_tenant_id")],
    on_scope_purged=scope_purged,
)

"""Reports' rows and files for the purge of a soft-deleted tenant: every job, the render
queue, schedules and their clock, file expiries, the rollup grants it gave and those given
to it (its transaction reads and deletes those: migration 0007), and in the object store its
rendered files and cover logo (:func:`forget_files`).

No table has a workspace column (a job's or schedule's ``scope_workspaces`` is a list): a
workspace's purge keeps their rows but takes its id out of every list
(:func:`scope_purged`). A schedule left with none is paused — off the clock, audited as the
archive's — rather than left to fail every run; a job keeps its record whatever is left."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import (
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
from sextant.runtime.app import current_service
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable


async def forget_files(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """On a tenant's purge, delete its rendered files and logo from the object store
    (inside the purge's transaction: a failure leaves its rows for the redelivery, and a
    delete is idempotent). Objects are not rows: none counted."""
    state = current_service.get()  # None outside a running service: no store to clear
    if workspace is not None or state is None or state.objects is None:
        return 0
    for key in [*await state.objects.list(report_prefix(tenant)), logo_key(tenant)]:
        await state.objects.delete(key)
    return 0


async def scope_purged(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """Before the scope's rows go: a workspace leaves every job's and schedule's list (a
    schedule it leaves empty is paused, the pause audited); a tenant's files go. Nothing
    deleted here is counted."""
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

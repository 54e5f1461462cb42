"""Reports' rows and files for the purge of a soft-deleted tenant: every job, the render
queue, schedules and their clock, file expiries and the rollup grants it gave, and in the
object store its rendered files and cover logo (:func:`forget_files`). No table names a
workspace (a report's ``scope_workspaces`` is a list): a workspace's purge keeps them."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.reports.db import (
    file_expiry,
    render_queue,
    report_schedules,
    reports,
    rollup_grants,
    schedule_clock,
    spine,
)
from sextant.reports.render import logo_key, report_prefix
from sextant.runtime.app import current_service
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


PURGER = Purger(
    "reports",
    Outbox(spine.outbox, source="/sextant/reports"),
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
    ],
    on_scope_purged=forget_files,
)

"""The gateway's rows under retention: notifications, purged when the archive asks; a scope
purge (a soft-deleted tenant past its grace period) deletes the tenant's and marks the
tenant or workspace purged, so it can no longer be restored. The
audit log is hash-chained: its purge (:func:`purge_audit_log`) deletes only a prefix of a
chain and leaves a checkpoint the chain check starts from."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import PurgeRequested
from sextant.gateway.db import notifications, repository, spine
from sextant.gateway.service import audit
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Purger, PurgeTable


async def purge_audit_log(session: AsyncSession, tenant: UUID, request: PurgeRequested) -> int:
    """Purge the oldest audit rows the archive verified a copy of (a prefix of the chain,
    never a row a hold's time range meets), and audit the purge itself."""
    held = [(h.starts_at, h.ends_at) for h in request.holds]
    deleted, checkpoint = await repository.purge_audit(
        session, tenant, request.not_before, request.older_than, held
    )
    if deleted and checkpoint is not None:
        await audit(
            session,
            OUTBOX,
            tenant,
            "archive",
            "audit_log.purge",
            f"checkpoint:{checkpoint.seq}",
            after=checkpoint,
        )
    return deleted


OUTBOX = Outbox(spine.outbox, source="/sextant/gateway")
PURGER = Purger(
    "gateway",
    OUTBOX,
    [PurgeTable(notifications, "notifications", time_column="created_at")],
    on_scope_purged=repository.mark_purged,
    deleters={"audit_log": purge_audit_log},
)

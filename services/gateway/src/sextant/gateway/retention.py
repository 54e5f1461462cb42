"""The gateway's rows under retention: notifications, purged when the archive asks. The
audit log is hash-chained: its purge (:func:`purge_audit_log`) deletes only a prefix of a
chain and leaves a checkpoint the chain check starts from.

A scope purge (a soft-deleted tenant or workspace past its grace period) deletes every row
of the tenant from every table here: its views, API keys and their routes, browser
sessions, notifications and who read them, partner subscriptions (their URLs and secrets),
their deliveries and queue — and, on a tenant's purge, its whole audit chain
(:func:`scope_purged`): the chain is the tenant's data, and the platform's record that it
was purged is the tombstone (``purged_at``), the platform chain's ``tenant.purge`` entry
and the archive's manifest. None of these tables has a workspace column: a workspace's
purge marks the workspace purged and takes its id out of every view naming it — a view it
leaves with none is deleted, as a user's delete would (a view of nothing answers nothing,
and reappears nowhere), and each change is audited as the archive's. What stays is listed
in :data:`KEPT`."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import PurgeRequested
from sextant.gateway.db import (
    api_key_routes,
    api_keys,
    browser_sessions,
    delivery_queue,
    notification_reads,
    notifications,
    repository,
    spine,
    subscription_deliveries,
    subscriptions,
    views,
)
from sextant.gateway.domain.audit import PLATFORM_CHAIN
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


async def scope_purged(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
    """Before the scope's declared rows go: mark it purged (locking its row: see
    :func:`repository.tenant_purged`); a tenant's audit chain goes too, its purge recorded
    in the platform's chain; a workspace leaves the views naming it, each change audited
    (a view left with none is deleted). The audit rows deleted."""
    await repository.mark_purged(session, tenant, workspace)
    if workspace is not None:
        for before, after in await repository.remove_workspace_from_views(
            session, tenant, workspace
        ):
            if after.deleted_at is None:
                await audit(
                    session, OUTBOX, tenant, "archive", "view.update", after.id, before, after
                )
            else:
                await audit(session, OUTBOX, tenant, "archive", "view.delete", after.id, before)
        return 0
    deleted = await repository.purge_audit_chain(session, tenant)
    tombstone = await repository.get_tenant(session, tenant)
    await audit(session, OUTBOX, PLATFORM_CHAIN, "archive", "tenant.purge", tenant, after=tombstone)
    return deleted


KEPT = {
    "tenants": "the tombstone: purged_at says the tenant can be neither restored nor remade",
    "workspaces": "the tombstones of the tenant's workspaces, purged_at set",
    "audit_log": "the tenant's chain: deleted by scope_purged (purge_audit_chain), not here",
    "audit_heads": "the chain's head: deleted with the chain by scope_purged",
    "audit_checkpoints": "the chain's checkpoint: deleted with the chain by scope_purged",
    "oidc_sign_ins": "no tenant's: a sign-in under way, before anyone is known (minutes)",
    "seal_marks": "the platform's own: the key the sealing pass last finished under",
}
"""The gateway's tables a scope purge does not delete from, and why."""

OUTBOX = Outbox(spine.outbox, source="/sextant/gateway")
PURGER = Purger(
    "gateway",
    OUTBOX,
    [
        PurgeTable(notifications, "notifications", time_column="created_at"),
        *(
            PurgeTable(table, None)
            for table in (
                views,
                api_keys,
                api_key_routes,
                browser_sessions,
                notification_reads,
                subscriptions,
                subscription_deliveries,
                delivery_queue,
            )
        ),
    ],
    on_scope_purged=scope_purged,
    deleters={"audit_log": purge_audit_log},
)

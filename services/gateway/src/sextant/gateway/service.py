"""The gateway's use cases: tenants, workspaces, views and API keys change here, each
change announced through the outbox (lifecycle events for other services, and
``config.changed`` for the audit log) in the same transaction."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import EventModel, uuid7
from sextant.contracts.events.platform import (
    ConfigChanged,
    TenantRestored,
    TenantSoftDeleted,
    WorkspaceRestored,
    WorkspaceSoftDeleted,
)
from sextant.gateway.authn import api_key_digest, new_api_key
from sextant.gateway.db import repository
from sextant.gateway.db.repository import ApiKeyRow, TenantRow, ViewRow, WorkspaceRow
from sextant.runtime.errors import Gone, InvalidInput, NotFound
from sextant.runtime.outbox import Outbox
from sextant.runtime.scope import parse_scope_text


def _now() -> datetime:
    return datetime.now(UTC)


def _plain(value: Any) -> dict[str, Any]:
    """A row as JSON-ready before/after values for the audit log (secrets never in rows)."""
    data = asdict(value)
    data.pop("secret_sha256", None)
    return {k: (str(v) if isinstance(v, UUID | datetime) else v) for k, v in data.items()}


async def audit(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    actor: str,
    action: str,
    target_id: UUID | str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Announce a configuration change (``action`` is ``<target type>.<verb>``); the audit
    log records it from the topic."""
    target_type = action.split(".", 1)[0]
    change = ConfigChanged(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )
    await outbox.add(session, change, tenant_id=tenant_id, entity=f"{target_type}:{target_id}")


# tenants --------------------------------------------------------------------------------


async def create_tenant(session: AsyncSession, outbox: Outbox, name: str, actor: str) -> TenantRow:
    row = await repository.create_tenant(session, uuid7(), name, _now())
    await audit(session, outbox, row.id, actor, "tenant.create", row.id, after=row)
    return row


async def delete_tenant(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, actor: str, grace_days: int
) -> TenantRow:
    before = await repository.get_tenant(session, tenant_id)
    if before is None or before.deleted_at is not None:
        raise NotFound(f"no tenant {tenant_id}")
    now = _now()
    until = now + timedelta(days=grace_days)
    announcement = TenantSoftDeleted(restorable_until=until)
    return await _mark_tenant(
        session, outbox, before, actor, "tenant.delete", announcement, now, until
    )


async def restore_tenant(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, actor: str
) -> TenantRow:
    before = await repository.get_tenant(session, tenant_id)
    if before is None:
        raise NotFound(f"no tenant {tenant_id}")
    if before.deleted_at is None:
        return before
    _still_restorable(before.restorable_until, before.purged_at, f"tenant {tenant_id}")
    announcement = TenantRestored(restored_by=actor)
    return await _mark_tenant(
        session, outbox, before, actor, "tenant.restore", announcement, None, None
    )


async def _mark_tenant(
    session: AsyncSession,
    outbox: Outbox,
    before: TenantRow,
    actor: str,
    action: str,
    announcement: EventModel,
    deleted_at: datetime | None,
    restorable_until: datetime | None,
) -> TenantRow:
    """Soft-delete or restore a tenant, announced to every service and audited."""
    await repository.set_tenant_deleted(session, before.id, deleted_at, restorable_until)
    after = replace(before, deleted_at=deleted_at, restorable_until=restorable_until)
    await outbox.add(session, announcement, tenant_id=before.id, entity="tenant")
    await audit(session, outbox, before.id, actor, action, before.id, before=before, after=after)
    return after


def _still_restorable(
    restorable_until: datetime | None, purged_at: datetime | None, what: str
) -> None:
    if purged_at is not None:
        raise Gone(f"{what} was purged (its grace period is over); it can no longer be restored")
    if restorable_until is not None and restorable_until < _now():
        raise Gone(f"{what} can no longer be restored (its grace period is over)")


# workspaces -----------------------------------------------------------------------------


async def create_workspace(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, name: str, actor: str
) -> WorkspaceRow:
    row = await repository.create_workspace(session, tenant_id, uuid7(), name, _now())
    await audit(session, outbox, tenant_id, actor, "workspace.create", row.id, after=row)
    return row


async def live_workspace(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID
) -> WorkspaceRow:
    row = await repository.get_workspace(session, tenant_id, workspace_id)
    if row is None:
        raise NotFound(f"no workspace {workspace_id}")
    return row


async def rename_workspace(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    workspace_id: UUID,
    name: str,
    actor: str,
) -> WorkspaceRow:
    before = await live_workspace(session, tenant_id, workspace_id)
    await repository.update_workspace(session, tenant_id, workspace_id, name=name)
    after = WorkspaceRow(**{**asdict(before), "name": name})
    await audit(
        session,
        outbox,
        tenant_id,
        actor,
        "workspace.update",
        workspace_id,
        before=before,
        after=after,
    )
    return after


async def delete_workspace(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    workspace_id: UUID,
    actor: str,
    grace_days: int,
) -> WorkspaceRow:
    before = await live_workspace(session, tenant_id, workspace_id)
    now = _now()
    until = now + timedelta(days=grace_days)
    announcement = WorkspaceSoftDeleted(restorable_until=until)
    return await _mark_workspace(
        session, outbox, before, actor, "workspace.delete", announcement, now, until
    )


async def restore_workspace(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, workspace_id: UUID, actor: str
) -> WorkspaceRow:
    before = await repository.get_workspace(session, tenant_id, workspace_id, include_deleted=True)
    if before is None:
        raise NotFound(f"no workspace {workspace_id}")
    if before.deleted_at is None:
        return before
    _still_restorable(before.restorable_until, before.purged_at, f"workspace {workspace_id}")
    announcement = WorkspaceRestored(restored_by=actor)
    return await _mark_workspace(
        session, outbox, before, actor, "workspace.restore", announcement, None, None
    )


async def _mark_workspace(
    session: AsyncSession,
    outbox: Outbox,
    before: WorkspaceRow,
    actor: str,
    action: str,
    announcement: EventModel,
    deleted_at: datetime | None,
    restorable_until: datetime | None,
) -> WorkspaceRow:
    """Soft-delete or restore a workspace, announced to every service and audited."""
    tenant_id, workspace_id = before.tenant_id, before.id
    await repository.update_workspace(
        session, tenant_id, workspace_id, deleted_at=deleted_at, restorable_until=restorable_until
    )
    after = replace(before, deleted_at=deleted_at, restorable_until=restorable_until)
    await outbox.add(
        session, announcement, tenant_id=tenant_id, workspace_id=workspace_id, entity="workspace"
    )
    await audit(session, outbox, tenant_id, actor, action, workspace_id, before=before, after=after)
    return after


# views ----------------------------------------------------------------------------------


async def _checked_workspaces(
    session: AsyncSession, tenant_id: UUID, workspace_ids: list[UUID]
) -> list[UUID]:
    unique = list(dict.fromkeys(workspace_ids))
    live = await repository.live_workspace_ids(session, tenant_id, unique)
    missing = [str(w) for w in unique if w not in live]
    if missing:
        raise InvalidInput(f"no such workspaces: {', '.join(missing)}", workspace_ids=missing)
    return unique


async def create_view(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    name: str,
    workspace_ids: list[UUID],
    actor: str,
) -> ViewRow:
    checked = await _checked_workspaces(session, tenant_id, workspace_ids)
    row = await repository.create_view(session, tenant_id, uuid7(), name, checked, _now())
    await audit(session, outbox, tenant_id, actor, "view.create", row.id, after=row)
    return row


async def get_view(session: AsyncSession, tenant_id: UUID, view_id: UUID) -> ViewRow:
    row = await repository.get_view(session, tenant_id, view_id)
    if row is None:
        raise NotFound(f"no view {view_id}")
    return row


async def change_view(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    view_id: UUID,
    *,
    name: str | None,
    workspace_ids: list[UUID] | None,
    actor: str,
) -> ViewRow:
    before = await get_view(session, tenant_id, view_id)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if workspace_ids is not None:
        values["workspace_ids"] = await _checked_workspaces(session, tenant_id, workspace_ids)
    if not values:
        raise InvalidInput("nothing to change: give name and/or workspace_ids")
    await repository.update_view(session, tenant_id, view_id, **values)
    after = ViewRow(**{**asdict(before), **values})
    await audit(
        session, outbox, tenant_id, actor, "view.update", view_id, before=before, after=after
    )
    return after


async def delete_view(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, view_id: UUID, actor: str
) -> None:
    before = await get_view(session, tenant_id, view_id)
    await repository.update_view(session, tenant_id, view_id, deleted_at=_now())
    await audit(session, outbox, tenant_id, actor, "view.delete", view_id, before=before)


async def scope_workspaces(session: AsyncSession, tenant_id: UUID, scope: str) -> list[UUID]:
    """The live workspaces a ``?scope=`` covers for this tenant; 404 when it is not theirs."""
    kind, ident = parse_scope_text(scope)
    if kind == "workspace":
        await live_workspace(session, tenant_id, ident)
        return [ident]
    view = await get_view(session, tenant_id, ident)
    return await repository.live_workspace_ids(session, tenant_id, view.workspace_ids)


# API keys -------------------------------------------------------------------------------


async def create_api_key(
    session: AsyncSession,
    outbox: Outbox,
    tenant_id: UUID,
    *,
    name: str,
    role: str,
    expires_in_days: int | None,
    actor: str,
) -> tuple[ApiKeyRow, str]:
    key_id, key = new_api_key()
    now = _now()
    row = ApiKeyRow(
        tenant_id=tenant_id,
        id=uuid7(),
        key_id=key_id,
        secret_sha256=api_key_digest(key),
        name=name,
        role=role,
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        revoked_at=None,
    )
    await repository.create_api_key(session, row)
    await audit(session, outbox, tenant_id, actor, "api_key.create", row.id, after=row)
    return row, key


async def revoke_api_key(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, key: UUID, actor: str
) -> ApiKeyRow:
    before = await repository.get_api_key(session, tenant_id, key)
    if before is None:
        raise NotFound(f"no API key {key}")
    if before.revoked_at is not None:
        return before
    now = _now()
    await repository.revoke_api_key(session, tenant_id, key, now)
    after = ApiKeyRow(**{**asdict(before), "revoked_at": now})
    await audit(
        session, outbox, tenant_id, actor, "api_key.revoke", key, before=before, after=after
    )
    return after

"""A configuration change a service makes goes to the gateway's audit log as a
ConfigChanged event on the service's outbox, in the change's own transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import ConfigChanged
from sextant.runtime.outbox import Outbox


def config_change(
    actor: str,
    action: str,
    target: tuple[str, UUID | str],
    *,
    before: Any = None,
    after: Any = None,
) -> ConfigChanged:
    """``actor``'s ``action`` on ``target`` (its type and id): ``before`` is what a delete
    or a replacement removed, ``after`` what was stored; the request's id from the log
    context, so the audit record and the request's logs meet."""
    target_type, target_id = target
    return ConfigChanged(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )


async def record_change(
    session: AsyncSession,
    outbox: Outbox,
    tenant: UUID,
    change: ConfigChanged,
    workspace: UUID | None = None,
) -> None:
    """Stage ``change`` about its target (the event's entity is ``<type>:<id>``), of
    ``workspace`` when the target belongs to one."""
    entity = f"{change.target_type}:{change.target_id}"
    await outbox.add(session, change, tenant_id=tenant, workspace_id=workspace, entity=entity)

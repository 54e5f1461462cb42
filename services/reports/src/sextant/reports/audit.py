"""A reports configuration change (a schedule, a roll-up grant, the logo) goes to the
gateway's audit log as a ConfigChanged event on the outbox, in the change's transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import ConfigChanged
from sextant.runtime.outbox import Outbox
from sextant.runtime.tokens import InternalClaims


async def record_change(
    session: AsyncSession,
    outbox: Outbox,
    tenant: UUID,
    caller: InternalClaims,
    action: str,
    target: tuple[str, UUID],
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    """Stage the audit event of ``caller``'s ``action`` on ``target`` (its type and id):
    ``before`` is what a delete or a replacement removed, ``after`` what was stored."""
    target_type, target_id = target
    change = ConfigChanged(
        actor=caller.sub,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )
    await outbox.add(session, change, tenant_id=tenant, entity=f"{target_type}:{target_id}")

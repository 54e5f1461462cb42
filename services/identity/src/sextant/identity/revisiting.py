"""The automatic revisit: a tenant's name links weighed again once its names have grown.

A tenant's first names are judged against the few names it has seen ("among 0 names seen
so far"). Every ``revisit_check_seconds`` each replica looks at every tenant on the
schedule (``revisits``: a tenant joins it with its first attribution) and revisits, as
``POST /v1/developers/revisit`` does (:func:`service.revisit`: suggestions only, audited
as ``identity.revisit`` with the actor ``identity``), the tenants whose distinct names
have grown enough since the last revisit (:func:`domain.revisits.revisit_due`). The
tenant's schedule row, held ``FOR UPDATE SKIP LOCKED`` for the revisit's transaction, is
the lease: one revisit of a tenant at a time over all replicas, a manual one included,
released with the transaction even when its replica dies.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import structlog

from sextant.identity import service
from sextant.identity.db import repository
from sextant.identity.domain.revisits import revisit_due
from sextant.identity.settings import IdentitySettings
from sextant.runtime.app import ServiceState
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

SYSTEM_ACTOR = "identity"  # who revisits automatically, in the audit log


def identity_settings(state: ServiceState) -> IdentitySettings:
    """Identity's settings, read from the environment once per running service."""
    settings: IdentitySettings = state.extras.setdefault("identity_settings", IdentitySettings())
    return settings


async def revisit_grown(state: ServiceState) -> list[UUID]:
    """One pass: revisit every tenant whose names grew enough; the tenants revisited."""
    settings = identity_settings(state)
    async with state.db.transaction() as session:
        tenants = await repository.revisit_schedule(session)
    revisited: list[UUID] = []
    for tenant in tenants:
        try:
            async with state.db.transaction(tenant) as session:
                names_then = await repository.hold_revisit(session, tenant, wait=False)
                if names_then is None:
                    continue  # another replica (or a person) is revisiting it
                names_now = await repository.names_counted(session, tenant)
                if not revisit_due(
                    names_then,
                    names_now,
                    settings.revisit_growth_factor,
                    settings.revisit_min_new_names,
                ):
                    continue
                change = service.Change(tenant=tenant, actor=SYSTEM_ACTOR, outbox=state.outbox)
                trigger = f"names grew from {names_then} to {names_now}"
                await service.revisit(session, change, trigger=trigger)
            revisited.append(tenant)
        except Exception as exc:  # the next pass tries again
            log.warning("identity.revisit_failed", tenant_id=str(tenant), error=str(exc))
    return revisited


async def start(state: ServiceState) -> None:
    """Start the revisit loop: every ``revisit_check_seconds``, one pass."""
    every = identity_settings(state).revisit_check_seconds

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await revisit_grown(state)
            except Exception as exc:  # the database away: the next pass tries again
                log.warning("identity.revisit_pass_failed", error=str(exc))

    state.extras["identity_revisits"] = asyncio.create_task(loop(), name="identity-revisits")


async def stop(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("identity_revisits"))

"""The periodic stale-work scan: every scope, one transaction each, as that tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from sextant.forecast import service
from sextant.forecast.db import repository
from sextant.runtime.app import ServiceState
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()


async def scan_once(state: ServiceState) -> int:
    """Announce every item that turned stale since the last scan; returns how many."""
    async with state.db.transaction() as session:
        scopes = await repository.all_scopes(session)
    announced = 0
    now = datetime.now(UTC)
    for tenant, workspace in scopes:
        async with state.db.transaction(tenant) as session:
            announced += await service.announce_newly_stale(
                session, state.outbox, tenant, workspace, now
            )
    if announced:
        log.info("forecast.stale_announced", items=announced, scopes=len(scopes))
    return announced


async def start(state: ServiceState) -> None:
    interval = float(state.extras.get("stale_scan_seconds", 600))

    async def loop() -> None:
        while True:
            try:
                await scan_once(state)
            except Exception as exc:
                log.warning("forecast.stale_scan_failed", error=str(exc))
            await asyncio.sleep(interval)

    state.extras["stale_scan"] = asyncio.create_task(loop(), name="forecast-stale-scan")


async def stop(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("stale_scan"))

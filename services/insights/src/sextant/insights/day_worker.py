"""The derivation and DeveloperMetrics worker: derives the repositories projecting batches
touched (db/derivation_queue.py, derivations.py), then recomputes the (developer, day)s they
and identity changes queued (db/day_queue.py), after them, and announces the days whose
figures changed (``MetricsComputed``).

One round per tenant is two transactions: take up to ``day_keys_per_round`` rows of each
queue and derive each repository once (committed), then recompute each day key once by the
developer id it reads as now; each deletes the rows it took. A commit that queued rows wakes it (NOTIFY), so
derived columns and a day's figures lag their events by at most one round; it also looks
every ``day_poll_seconds``. Rounds of one tenant never overlap, on any replica (an
advisory lock of the worker's own): a round computing from an older snapshot must not
overwrite a newer one. Projecting batches take no lock of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import MetricsComputed
from sextant.insights import derivations
from sextant.insights.db import day_queue, derivation_queue, developer_days, statistics
from sextant.insights.db.developer_days import DayChange
from sextant.insights.handlers import OUTBOX
from sextant.insights.settings import InsightsSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.pgnotify import Listener
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()


async def announce(session: AsyncSession, tenant: UUID, changes: Sequence[DayChange]) -> None:
    """A ``MetricsComputed`` per (developer, day) whose figures changed, for partners — none
    while the tenant has per-developer metrics turned off."""
    if not changes or not await developer_days.developer_metrics_enabled(session, tenant):
        return
    staged = [
        OUTBOX.stage(
            MetricsComputed(
                scope=f"developer:{c.developer_id}",
                period_start=developer_days.day_start(c.day),
                period_end=developer_days.day_start(c.day + timedelta(days=1)),
                metrics=developer_days.published_metrics(c.figures),
            ),
            tenant_id=tenant,
            entity=f"developer:{c.developer_id}",
        )
        for c in changes
    ]
    await OUTBOX.add_all(session, staged)


async def _lock(session: AsyncSession, tenant: UUID) -> None:
    """The tenant's worker lock, until the transaction ends: rounds never overlap."""
    lock = sa.func.hashtextextended(f"insights/day-worker/{tenant}", 0)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))


async def derive(session: AsyncSession, tenant: UUID, limit: int) -> tuple[day_queue.Taken, int]:
    """The first half of a round, in its own transaction: take up to ``limit`` day keys,
    then derive up to ``limit`` queued repositories. Returns the day keys to recompute
    next (:func:`recompute`, once this commits) and the derivation rows done.

    The day keys are taken first: every batch whose keys were taken committed before its
    derivations were looked for, so they are derived before its days are recomputed (a
    day reads the first commit and review derived). Committing before the days are
    recomputed keeps the change requests the derivation rewrote locked for the derivation
    only, not for the recompute too (batches writing them waited on it). When the
    derivations fill their limit, the days wait for the next round."""
    await _lock(session, tenant)
    taken = await day_queue.take(session, tenant, limit)
    derived = await derivation_queue.take(session, tenant, limit)
    moved = await derivations.derive(session, OUTBOX, tenant, derived.noted)
    await derivation_queue.forget(session, derived.ids)
    # their first commit moved: queued (kept should the recompute fail) and taken too
    queued = await day_queue.note(session, tenant, moved)
    if len(derived.ids) >= limit:
        return day_queue.Taken(), len(derived.ids)
    taken.ids += queued
    taken.days |= moved
    return taken, len(derived.ids)


async def recompute(session: AsyncSession, tenant: UUID, taken: day_queue.Taken) -> int:
    """The second half of a round: recompute the day keys :func:`derive` took, each once
    by the developer id it reads as now, and delete their rows; the rows recomputed."""
    if not taken.ids:
        return 0
    await _lock(session, tenant)
    current = await developer_days.current_ids(
        session, tenant, {d for d, _ in taken.days | taken.onward}
    )
    # by the id each reads as now, and as queued: a developer merged away loses its rows
    pairs = taken.days | {(current[d], day) for d, day in taken.days}
    pairs |= await developer_days.days_since(
        session, tenant, {(current[d], day) for d, day in taken.onward}
    )
    await announce(session, tenant, await developer_days.refresh(session, tenant, pairs))
    await day_queue.forget(session, taken.ids)
    return len(taken.ids)


class DayWorker:
    """The background loop of rounds, every tenant in turn until both queues are empty."""

    def __init__(self, state: ServiceState, settings: InsightsSettings) -> None:
        self.state = state
        self.settings = settings
        self.listener = Listener(plain_dsn(state.db.app_url), day_queue.CHANNEL)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.listener.start()
        self._task = asyncio.create_task(self._loop(), name="insights-day-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self.listener.stop()

    async def drain(self) -> int:
        """Rounds until no tenant has keys waiting; the rows recomputed."""
        done = 0
        while True:
            async with self.state.db.transaction() as session:
                tenants = set(await day_queue.pending_tenants(session))
                tenants |= await derivation_queue.pending_tenants(session)
            if not tenants:
                return done
            for tenant in sorted(tenants):
                done += await self.round(tenant)

    async def round(self, tenant: UUID) -> int:
        """One round of the tenant's queues, in two transactions (:func:`derive`, then
        :func:`recompute`); the rows done. Before the recompute, the tables it reads that
        outgrew their statistics are analyzed (db/statistics.py): it is planned from them."""
        async with self.state.db.transaction(tenant) as session:
            taken, derived = await derive(session, tenant, self.settings.day_keys_per_round)
        if taken.ids:
            async with self.state.db.transaction() as session:
                grown = await statistics.analyze_grown(session)
            if grown:
                log.info("insights.tables_analyzed", tables=grown)
        async with self.state.db.transaction(tenant) as session:
            return derived + await recompute(session, tenant, taken)

    async def _loop(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception as exc:
                log.warning("insights.day_worker_failed", error=str(exc))
            await self.listener.wait(self.settings.day_poll_seconds)


async def start(state: ServiceState) -> None:
    worker = DayWorker(state, InsightsSettings())
    state.extras["day_worker"] = worker
    await worker.start()


async def stop(state: ServiceState) -> None:
    worker = state.extras.get("day_worker")
    if worker is not None:
        await worker.stop()

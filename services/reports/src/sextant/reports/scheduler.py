"""The scheduler: queues the report of every schedule that fell due, soft-deletes reports
whose files expired (SEXTANT_REPORTS_FILE_RETENTION_DAYS), and deletes the files queued in
``object_deletions`` — those expired reports', and those of tenants whose purge committed —
once what queued them committed (:func:`sextant.reports.retention.clear_forgotten`).

Every replica runs one, but a pass holds a transaction-scoped advisory lock, so one
replica at a time does the work (another that finds the lock taken skips its pass), and
the due clock entries are also row-locked (``FOR UPDATE SKIP LOCKED``). A pass creates the
report, its ReportRequested event and the schedule's next run in one transaction, so a
run is queued exactly once even if the replica dies mid-pass. A scheduler that was down
queues one report per schedule for the latest run it missed, then carries on from the
next run after now (sextant.reports.domain.schedules).

A pass locks a due schedule's clock entry, then its row (``FOR UPDATE``), before it reads
what to queue, as a workspace's purge does (clock, then schedule): a pass that got there
first commits its job before the purge scrubs jobs, and one that waited reads the schedule
as the purge left it, so no job names a purged workspace.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog

from sextant.contracts import uuid7
from sextant.reports.db import deletions, repository, schedules
from sextant.reports.domain.schedules import Cadence, latest_due, next_run, period_of
from sextant.reports.render import announce_requested, worker_of
from sextant.reports.retention import clear_forgotten
from sextant.reports.settings import ReportsSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.db import set_tenant
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

LOCK = "sextant.reports.scheduler"
SWEEP_LOCK = "sextant.reports.file-expiry"
BATCH = 100  # schedules queued per transaction; a pass takes batches until none is due


def cadence_of(schedule: Any) -> Cadence:
    return Cadence(schedule.every, schedule.day, schedule.at, schedule.time_zone)


class Scheduler:
    """One per replica; started and stopped with the service."""

    def __init__(self, state: ServiceState, settings: ReportsSettings) -> None:
        self.state, self.settings = state, settings
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reports-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_due(datetime.now(UTC))
                await self.expire_files(datetime.now(UTC))
                await clear_forgotten(self.state.db, self.state.objects)
            except Exception as exc:
                log.warning("reports.scheduler_failed", error=str(exc))
            await asyncio.sleep(self.settings.schedule_poll_seconds)

    async def run_due(self, now: datetime) -> int:
        """Queue the reports due at ``now``; how many were queued (0 when another replica
        holds the pass)."""
        queued = 0
        while True:
            batch = await self._batch(now)
            if batch is None:
                break
            queued += batch
            if batch < BATCH:
                break
        if queued:
            worker_of(self.state).wake.set()
        return queued

    async def _batch(self, now: datetime) -> int | None:
        async with self.state.db.transaction() as session:
            locked = await session.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtextextended(LOCK, 0)))
            )
            if not locked:
                return None
            due = await schedules.due(session, now, BATCH)
            for clock in due:
                await set_tenant(session, clock.tenant_id)
                await self._queue(session, clock, now)
            return len(due)

    async def expire_files(self, now: datetime) -> int:
        """Soft-delete the reports whose files expired at ``now`` (each in its tenant) and
        queue their files in ``object_deletions`` in the same transaction; how many. The
        pass's :func:`clear_forgotten` deletes them only once that committed: a transaction
        that fails leaves its reports live with their files (the next pass sweeps them
        again), and a file whose delete the store refuses stays queued for the pass after."""
        swept = 0
        while True:
            async with self.state.db.transaction() as session:
                locked = await session.scalar(
                    sa.select(
                        sa.func.pg_try_advisory_xact_lock(sa.func.hashtextextended(SWEEP_LOCK, 0))
                    )
                )
                if not locked:
                    return swept
                due = await repository.expired(session, now, BATCH)
                files: list[str] = []
                for entry in due:
                    await set_tenant(session, entry.tenant_id)
                    key = await repository.soft_delete(session, entry.report_id, now)
                    if key is not None:
                        files.append(key)
                await deletions.queue(session, files)
                swept += len(due)
            if len(due) < BATCH:
                return swept

    async def _queue(self, session: Any, clock: Any, now: datetime) -> None:
        schedule = await schedules.get(
            session, clock.tenant_id, clock.schedule_id, for_update=True
        )  # waits for a purge changing its workspaces (see the module)
        if schedule is None:
            await schedules.forget(session, clock.schedule_id)
            return
        cadence = cadence_of(schedule)
        run = latest_due(cadence, now)
        first, last = period_of(cadence, run)
        row = await repository.create(
            session,
            repository.NewReport(
                id=uuid7(),
                tenant_id=schedule.tenant_id,
                kind=schedule.kind,
                format=schedule.format,
                scope=schedule.scope,
                scope_workspaces=list(schedule.scope_workspaces),
                period_from=first,
                period_to=last,
                time_zone=schedule.time_zone,
                requested_by=schedule.created_by,
                requester_role=schedule.creator_role,
                schedule_id=schedule.id,
                notify=list(schedule.notify),
            ),
            now,
        )
        await announce_requested(session, self.state.outbox, row)
        await schedules.ran(session, schedule.id, run, row.id, next_run(cadence, now))
        log.info("reports.scheduled", schedule_id=str(schedule.id), report_id=str(row.id))


def scheduler_of(state: ServiceState) -> Scheduler:
    scheduler: Scheduler = state.extras["report_scheduler"]
    return scheduler


async def start(state: ServiceState) -> None:
    scheduler = Scheduler(state, ReportsSettings())
    state.extras["report_scheduler"] = scheduler
    await scheduler.start()


async def stop(state: ServiceState) -> None:
    await scheduler_of(state).stop()

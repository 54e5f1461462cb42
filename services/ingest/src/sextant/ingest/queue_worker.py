"""The loop of ingest's queue workers (the check-run poster, checks.py; the commit lister,
commits.py): take due rows until none is left, then wait for whichever comes first of a
commit that queued one (its NOTIFY, db/leases.py), the time the queue's next row may be
claimed (a retry waiting out its backoff, a dead replica's lease running out) and the
fallback interval, which bounds only what a notification lost while the listener
reconnects delays."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
import structlog

from sextant.ingest.db import leases
from sextant.runtime.db import Database, plain_dsn
from sextant.runtime.pgnotify import Listener
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()


class QueueWorker:
    """Runs ``take`` (one claim and its work; returns how many rows it took) whenever
    ``queue`` may hold due rows; one per worker and replica."""

    def __init__(
        self,
        db: Database,
        queue: sa.Table,
        take: Callable[[], Awaitable[int]],
        *,
        fallback_seconds: float,
    ) -> None:
        self.db, self.queue, self.take = db, queue, take
        self.fallback_seconds = fallback_seconds
        self.listener = Listener(plain_dsn(db.app_url), leases.channel(queue))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.listener.start()
        self._task = asyncio.create_task(self._run(), name=f"ingest:{self.queue.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self.listener.stop()

    async def _run(self) -> None:
        while True:
            wait = self.fallback_seconds
            try:
                while await self.take():
                    pass
                async with self.db.transaction() as session:
                    due_in = await leases.seconds_to_next_due(session, self.queue)
                if due_in is not None:
                    wait = min(wait, max(due_in, 0.0))
            except Exception as exc:
                log.warning("ingest.queue_failed", queue=self.queue.name, error=str(exc))
            await self.listener.wait(wait)

"""Signature failures per source: counted in memory, written a batch at a time.

A refused delivery costs the sender nothing, so a forged flood must not cost a database
transaction (and its fsync) each, nor make each 401 wait for one: the first failure of a
burst is written at once, what follows is added up and written once per ``interval``
while it lasts. The admins are told at the 5th failure and at every 100th, by the write
whose count passes that mark. The count is advisory: a write lost to a database outage
is logged and dropped, never retried ahead of real deliveries.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import structlog

from sextant.ingest.db import repository
from sextant.ingest.db.repository import SourceRow
from sextant.ingest.reading import notice
from sextant.runtime.app import ServiceState
from sextant.runtime.tasks import cancel_and_wait
from sextant.runtime.transient import is_transient

log = structlog.get_logger()

# Loud enough to notice a misconfigured secret or a probe, quiet enough not to flood.
NOTICE_FIRST, NOTICE_EVERY = 5, 100


def passes_a_notice_mark(before: int, after: int) -> bool:
    """Whether the count going from ``before`` to ``after`` passes the 5th failure or a
    multiple of 100 (one notice for a write that passes several)."""
    return before < NOTICE_FIRST <= after or after // NOTICE_EVERY > before // NOTICE_EVERY


class SignatureFailures:
    def __init__(self, state: ServiceState, interval: float = 1.0) -> None:
        self._state, self.interval = state, interval
        self._pending: dict[UUID, tuple[SourceRow, int]] = {}
        self._writers: dict[UUID, asyncio.Task[None]] = {}
        self.writes = 0  # transactions spent, for tests and curiosity

    def note(self, source: SourceRow) -> None:
        """Count one refused delivery to ``source`` (returns at once)."""
        _, count = self._pending.get(source.id, (source, 0))
        self._pending[source.id] = (source, count + 1)
        if source.id not in self._writers:
            self._writers[source.id] = asyncio.create_task(
                self._write_while_failing(source.id), name=f"signature-failures-{source.id}"
            )

    async def stop(self) -> None:
        """Write what is still counted, after the writers' pauses are cut short."""
        for task in list(self._writers.values()):
            await cancel_and_wait(task)
        while self._pending:
            source, count = self._pending.popitem()[1]
            await self._write(source, count)

    async def _write_while_failing(self, source_id: UUID) -> None:
        try:
            while (pending := self._pending.pop(source_id, None)) is not None:
                await self._write(*pending)
                await asyncio.sleep(self.interval)
        finally:
            self._writers.pop(source_id, None)

    async def _write(self, source: SourceRow, count: int) -> None:
        self.writes += 1
        try:
            async with self._state.db.transaction(source.tenant_id) as session:
                after = await repository.count_signature_failures(session, source.id, count)
                if passes_a_notice_mark(after - count, after):
                    warning = notice(
                        self._state.outbox,
                        source,
                        "warning",
                        f"Webhook signatures keep failing for '{source.name}'",
                        f"{after} deliveries to this {source.kind} source were refused for a "
                        "bad or missing signature. Check the secret configured in the tool.",
                    )
                    await self._state.outbox.add_all(session, [warning])
        except Exception as exc:  # nobody awaits the writer: say it here, and go on
            (log.warning if is_transient(exc) else log.exception)(
                "ingest.signature_failures_unrecorded",
                source=str(source.id),
                count=count,
                error=type(exc).__name__,
            )

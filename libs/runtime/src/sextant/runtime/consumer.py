"""Consuming events, the same way on every transport.

For each record: parse the envelope, then in one transaction claim the inbox and run the
handler; commit; only then commit the bus offset. Partitions are processed concurrently,
records within one partition strictly in order. A handler that keeps failing is retried
with backoff ``max_attempts`` times, then its record goes to ``<topic>.dlq`` with the error
and the attempt count, and the partition moves on. Database or broker outages are not the
event's fault: they are retried until the infrastructure is back and never dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, from_kafka_binary
from sextant.runtime.bus.base import EventBus, IncomingRecord, OutgoingRecord, PartitionKey
from sextant.runtime.db import Database
from sextant.runtime.logging import bind_request_context, clear_request_context
from sextant.runtime.metrics import ServiceMetrics
from sextant.runtime.outbox import claim_inbox
from sextant.runtime.tasks import cancel_and_wait
from sextant.runtime.transient import is_transient

log = structlog.get_logger()

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]

DLQ_SUFFIX = ".dlq"
_MAX_INFRA_BACKOFF = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)))


def dead_letter_record(
    record: IncomingRecord, error: BaseException, attempts: int
) -> OutgoingRecord:
    """The DLQ copy of a record: original headers and value, plus why and how often it failed."""
    extra = (
        ("sextant_error", f"{type(error).__name__}: {error}"[:2000].encode()),
        ("sextant_attempts", str(attempts).encode()),
        ("sextant_original_topic", record.topic.encode()),
        ("sextant_original_partition", str(record.partition).encode()),
        ("sextant_original_offset", str(record.offset).encode()),
    )
    return OutgoingRecord(
        topic=record.topic + DLQ_SUFFIX,
        key=record.key or "",
        headers=record.headers + extra,
        value=record.value,
    )


class EventProcessor:
    """Runs one consumer group member for a service: poll → handle → commit."""

    def __init__(
        self,
        *,
        bus: EventBus,
        db: Database,
        inbox: Table,
        group: str,
        handlers: Mapping[str, Handler],
        retry: RetryPolicy | None = None,
        metrics: ServiceMetrics | None = None,
        max_records: int = 500,
    ) -> None:
        self._bus = bus
        self._db = db
        self._inbox = inbox
        self._group = group
        self._handlers = dict(handlers)
        self._retry = retry or RetryPolicy()
        self._metrics = metrics
        self._max_records = max_records
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.handled = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self._group}")

    @property
    def alive(self) -> bool:
        """False once the consumer task has ended while it should still be running."""
        return self._task is not None and (not self._task.done() or self._stopping.is_set())

    async def stop(self) -> None:
        """Finish the batch in hand, commit it, leave the group."""
        self._stopping.set()
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(10):  # not wait_for: see sextant.runtime.tasks
                await asyncio.shield(task)
        except TimeoutError:
            await cancel_and_wait(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # it is our caller being cancelled, not the consumer
        except Exception as exc:
            log.error("consumer.ended_with_error", group=self._group, error=str(exc))

    async def _run(self) -> None:
        consumer = self._bus.consumer(self._group, sorted(self._handlers))
        while not self._stopping.is_set():
            try:
                await consumer.start()
                break
            except Exception as exc:
                log.warning("consumer.start_failed", group=self._group, error=str(exc))
                await asyncio.sleep(1)
        try:
            while not self._stopping.is_set():
                try:
                    batch = await consumer.poll(self._max_records, timeout=0.5)
                except Exception as exc:
                    log.error("consumer.poll_failed", group=self._group, error=str(exc))
                    await asyncio.sleep(1)
                    continue
                if not batch:
                    continue
                done = await asyncio.gather(
                    *(self._process_partition(records) for records in batch.values())
                )
                offsets: dict[PartitionKey, int] = dict(zip(batch, done, strict=True))
                try:
                    await consumer.commit(offsets)
                except Exception as exc:
                    log.warning("consumer.commit_failed", group=self._group, error=str(exc))
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _process_partition(self, records: list[IncomingRecord]) -> int:
        for record in records:
            await self.process(record)
        return records[-1].offset + 1

    async def process(self, record: IncomingRecord) -> None:
        """Handle one record to completion: effect committed, or dead-lettered."""
        try:
            envelope = from_kafka_binary(record.headers, record.value)
        except (ValueError, json.JSONDecodeError) as exc:
            await self._dead_letter(record, exc, attempts=1)
            return
        handler = self._handlers[record.topic]
        bind_request_context(tenant_id=str(envelope.tenantid), traceparent=envelope.traceparent)
        try:
            attempt = 0
            while True:
                try:
                    async with self._db.transaction(envelope.tenantid) as session:
                        if await claim_inbox(session, self._inbox, self._group, envelope.id):
                            await handler(session, envelope)
                    self.handled += 1
                    if self._metrics:
                        self._metrics.events_handled.labels(record.topic, "ok").inc()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_transient(exc):
                        log.warning(
                            "consumer.infrastructure_down", group=self._group, error=str(exc)
                        )
                        await asyncio.sleep(
                            min(_MAX_INFRA_BACKOFF, self._retry.backoff_seconds * 4)
                        )
                        continue
                    attempt += 1
                    log.warning(
                        "consumer.handler_failed",
                        group=self._group,
                        event_id=str(envelope.id),
                        attempt=attempt,
                        error=str(exc),
                    )
                    if attempt >= self._retry.max_attempts:
                        await self._dead_letter(record, exc, attempts=attempt)
                        return
                    await asyncio.sleep(self._retry.delay(attempt))
        finally:
            clear_request_context()

    async def _dead_letter(
        self, record: IncomingRecord, error: BaseException, attempts: int
    ) -> None:
        dead = dead_letter_record(record, error, attempts)
        while True:
            try:
                await self._bus.publish([dead])
                break
            except Exception as exc:
                log.warning("consumer.dlq_publish_failed", topic=dead.topic, error=str(exc))
                await asyncio.sleep(1)
        log.error(
            "consumer.dead_lettered",
            group=self._group,
            topic=record.topic,
            offset=record.offset,
            attempts=attempts,
            error=str(error),
        )
        if self._metrics:
            self._metrics.events_dead_lettered.labels(record.topic).inc()

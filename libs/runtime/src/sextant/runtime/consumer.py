"""Consuming events, the same way on every transport.

For each record: parse the envelope, then in one transaction claim the inbox and run the
handler; commit; only then commit the bus offset. Partitions are processed concurrently,
records within one partition strictly in order. A handler that keeps failing is retried
with backoff ``max_attempts`` times, then its record goes to ``<topic>.dlq`` with the error
and the attempt count, and the partition moves on. Database or broker outages are not the
event's fault: they are retried until the infrastructure is back and never dead-lettered.

An event of a purged tenant or workspace (produced before its purge, still queued) is
claimed but not handled: the transaction holds the tenant's purge lock shared and reads the
tenant's tombstone and those of the batch's workspaces with the inbox claim
(:mod:`sextant.runtime.tombstones`), so no handler brings their rows back. The purge
requests themselves are handled whatever the tombstones say (a redelivered purge still
answers), and in a purged workspace configuration changes too (the tenant's audit chain
stays).

A :class:`Batched` handler takes a partition's consecutive records of one tenant together,
in one transaction: the inbox claim, the handler's own round trips and the commit (an
fsync) are shared, which is what lets a consumer keep up with a backlog. A batch that fails
for any reason but the infrastructure is handled again one record at a time, so retries
and dead-lettering stay per record, exactly as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

import structlog
from opentelemetry.trace import Span, SpanKind
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, from_kafka_binary
from sextant.runtime.bus.base import EventBus, IncomingRecord, OutgoingRecord, PartitionKey
from sextant.runtime.db import Database
from sextant.runtime.logging import bind_request_context, clear_request_context
from sextant.runtime.metrics import ServiceMetrics
from sextant.runtime.outbox import claim_inbox_checked
from sextant.runtime.tasks import cancel_and_wait
from sextant.runtime.tombstones import (
    PURGE_REQUESTED,
    Tombstones,
    read_tombstones,
    tenant_lock,
    workspaces_of,
)
from sextant.runtime.tracing import Tracer, current_tracer, end_span, start_span, traceparent_of
from sextant.runtime.transient import is_transient

log = structlog.get_logger()

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
BatchHandle = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A handler that takes up to ``max_batch`` envelopes of one tenant at a time, in
    order, in one transaction (their inbox already claimed). It is also a plain
    :data:`Handler`: one envelope is a batch of one.

    ``claims_inbox=False`` is for a handler that is idempotent by itself (the archive
    recognises an event it already holds by its id): the consumer claims no inbox row
    for its events, which is half the cost of a large batch."""

    handle_many: BatchHandle
    max_batch: int = 100
    claims_inbox: bool = True

    async def __call__(self, session: AsyncSession, envelope: Envelope) -> None:
        await self.handle_many(session, [envelope])


def each_of(handler: Handler, *, max_batch: int = 100) -> Batched:
    """``handler``, run for each envelope of a batch in turn, in one transaction: the
    batching a per-event handler gets for nothing (one inbox claim, one commit and its
    fsync for the batch, not one each), with its events still handled in order."""

    async def handle_many(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        for envelope in each_in_context(envelopes):
            await handler(session, envelope)

    return Batched(handle_many, max_batch)


def each_in_context(envelopes: Sequence[Envelope]) -> Iterator[Envelope]:
    """The envelopes of a batch, each with its own trace bound while the caller handles it
    (what it stages for the outbox carries that event's traceparent, not its neighbour's);
    the trace bound before is bound again after.

    When tracing, each event's handling is a span, a child of the event's producer and
    linked to the batch's span (bound before), so its trace runs on through this service."""
    before = structlog.contextvars.get_contextvars().get("traceparent")
    tracer = current_tracer.get()
    span: Span | None = None
    try:
        for envelope in envelopes:
            if tracer is None:
                _bind_trace(envelope.traceparent)
                yield envelope
                continue
            batch = (before,) if before != envelope.traceparent else ()
            span = _event_span(tracer, envelope, links=batch)
            _bind_trace(traceparent_of(span))
            yield envelope
            span.end()
            span = None
    finally:
        if span is not None:  # the batch failed while this event was in hand
            end_span(span, failed=True)
        _bind_trace(before)


def _event_span(tracer: Tracer, envelope: Envelope, links: Sequence[str | None] = ()) -> Span:
    """The span of one event's handling: a child of its producer's (see
    :mod:`sextant.runtime.tracing` for why a child, not a link)."""
    return start_span(
        tracer,
        f"process {envelope.type}",
        kind=SpanKind.CONSUMER,
        parent=envelope.traceparent,
        attributes={
            "messaging.message.id": str(envelope.id),
            "cloudevents.event_type": envelope.type,
        },
        links=links,
    )


def _bind_trace(traceparent: str | None) -> None:
    if traceparent is None:
        structlog.contextvars.unbind_contextvars("traceparent")
    else:
        structlog.contextvars.bind_contextvars(traceparent=traceparent)


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
        tracer: Tracer | None = None,
    ) -> None:
        self._bus = bus
        self._db = db
        self._inbox = inbox
        self._schema = inbox.schema or "public"
        self._group = group
        self._handlers = dict(handlers)
        self._retry = retry or RetryPolicy()
        self._metrics = metrics
        self._max_records = max_records
        self._tracer = tracer
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
        current_tracer.set(self._tracer)  # this task's: handlers' calls and staged events
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
        run: list[tuple[IncomingRecord, Envelope]] = []  # consecutive, one topic and tenant
        for record in records:
            handler = self._handlers[record.topic]
            if not isinstance(handler, Batched):
                await self._process_run(run)
                run = []
                await self.process(record)
                continue
            try:
                envelope = from_kafka_binary(record.headers, record.value)
            except (ValueError, json.JSONDecodeError) as exc:
                await self._process_run(run)
                run = []
                await self._dead_letter(record, exc, attempts=1)
                continue
            if run and (
                len(run) >= handler.max_batch
                or run[0][0].topic != record.topic
                or run[0][1].tenantid != envelope.tenantid
            ):
                await self._process_run(run)
                run = []
            run.append((record, envelope))
        await self._process_run(run)
        return records[-1].offset + 1

    async def _process_run(self, run: list[tuple[IncomingRecord, Envelope]]) -> None:
        """Handle a run of a :class:`Batched` topic in one transaction; if it fails (not
        the infrastructure), one record at a time instead."""
        if len(run) <= 1:
            for record, envelope in run:
                await self.process(record, envelope)
            return
        topic, tenant = run[0][0].topic, run[0][1].tenantid
        handler = self._handlers[topic]
        assert isinstance(handler, Batched)
        envelopes = list(
            {e.inbox_id: e for _, e in run}.values()
        )  # a copy redelivered within: once

        unhandled: Counter[str] = Counter()

        async def handle(session: AsyncSession) -> None:
            nonlocal unhandled
            workspaces = workspaces_of(envelopes)
            if handler.claims_inbox:
                ids = [e.inbox_id for e in envelopes]
                claimed, tombstones = await claim_inbox_checked(
                    session, self._inbox, self._group, ids, tenant, workspaces
                )
                fresh = [e for e in envelopes if e.inbox_id in claimed]
            else:
                fresh = envelopes
                tombstones = await read_tombstones(session, self._schema, tenant, workspaces)
            fresh, unhandled = self._handled(topic, tenant, fresh, tombstones)
            if fresh:
                await handler.handle_many(session, fresh)

        bind_request_context(tenant_id=str(tenant))
        span = None
        if self._tracer is not None:
            span = start_span(
                self._tracer,
                f"process {topic}",
                kind=SpanKind.CONSUMER,
                parent=None,
                attributes={
                    "messaging.destination.name": topic,
                    "messaging.consumer.group.name": self._group,
                    "messaging.batch.message_count": len(envelopes),
                },
                links=[e.traceparent for e in envelopes],
            )
            bind_request_context(traceparent=traceparent_of(span))
        try:
            guarded = any(e.type != PURGE_REQUESTED for e in envelopes)
            await self._committed(tenant, handle, guarded=guarded)
        except Exception as exc:
            log.warning(
                "consumer.batch_failed", group=self._group, records=len(run), error=str(exc)
            )
            if span is not None:
                end_span(span, exc)
                span = None
            for record, envelope in run:
                await self.process(record, envelope)
            return
        finally:
            if span is not None:
                span.end()
            clear_request_context()
        self.handled += len(run)
        if self._metrics:
            self._metrics.events_handled.labels(topic, "ok").inc(len(run) - unhandled.total())
            for outcome, events in unhandled.items():
                self._metrics.events_handled.labels(topic, outcome).inc(events)

    async def process(self, record: IncomingRecord, envelope: Envelope | None = None) -> None:
        """Handle one record to completion: effect committed, or dead-lettered."""
        if envelope is None:
            try:
                envelope = from_kafka_binary(record.headers, record.value)
            except (ValueError, json.JSONDecodeError) as exc:
                await self._dead_letter(record, exc, attempts=1)
                return
        handler, event = self._handlers[record.topic], envelope

        claims = not isinstance(handler, Batched) or handler.claims_inbox
        guarded = event.type != PURGE_REQUESTED
        outcome = "ok"

        async def handle(session: AsyncSession) -> None:
            nonlocal outcome
            tenant, workspaces = event.tenantid, workspaces_of([event])
            if claims:
                ids = [event.inbox_id]
                claimed, tombstones = await claim_inbox_checked(
                    session, self._inbox, self._group, ids, tenant, workspaces
                )
                if not claimed:
                    return
            elif guarded:
                tombstones = await read_tombstones(session, self._schema, tenant, workspaces)
            else:
                tombstones = Tombstones()
            handled, unhandled = self._handled(record.topic, tenant, [event], tombstones)
            if not handled:
                outcome = next(iter(unhandled))
                return
            await handler(session, event)

        # A Batched handler's each_in_context makes the event's span (the same one a
        # batch of many gives it); any other handler's is made here.
        span = None
        if self._tracer is not None and not isinstance(handler, Batched):
            span = _event_span(self._tracer, envelope)
        traceparent = envelope.traceparent if span is None else traceparent_of(span)
        bind_request_context(tenant_id=str(envelope.tenantid), traceparent=traceparent)
        failure: BaseException | None = None
        try:
            attempt = 0
            while True:
                try:
                    await self._committed(envelope.tenantid, handle, guarded=guarded)
                    self.handled += 1
                    if self._metrics:
                        self._metrics.events_handled.labels(record.topic, outcome).inc()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    attempt += 1
                    log.warning(
                        "consumer.handler_failed",
                        group=self._group,
                        event_id=str(envelope.id),
                        attempt=attempt,
                        error=str(exc),
                    )
                    if attempt >= self._retry.max_attempts:
                        failure = exc
                        await self._dead_letter(record, exc, attempts=attempt)
                        return
                    await asyncio.sleep(self._retry.delay(attempt))
        finally:
            if span is not None:
                end_span(span, failure)
            clear_request_context()

    def _handled(
        self, topic: str, tenant: UUID, envelopes: Sequence[Envelope], tombstones: Tombstones
    ) -> tuple[list[Envelope], Counter[str]]:
        """The envelopes to handle; those of a purged tenant or workspace are noted (logged
        as ``consumer.<outcome>``) and counted by outcome instead."""
        handled: list[Envelope] = []
        unhandled: Counter[str] = Counter()
        for envelope in envelopes:
            outcome = tombstones.unhandled(envelope)
            if outcome is None:
                handled.append(envelope)
            else:
                unhandled[outcome] += 1
        for outcome, events in unhandled.items():
            log.info(
                f"consumer.{outcome}",
                group=self._group,
                topic=topic,
                tenant_id=str(tenant),
                events=events,
            )
        return handled, unhandled

    async def _committed(
        self, tenant: UUID, handle: Callable[[AsyncSession], Awaitable[None]], *, guarded: bool
    ) -> None:
        """Run ``handle`` in a transaction as ``tenant`` and commit, retrying for as long as
        the database or broker is away; any other failure is the events', raised.
        ``guarded``: holding the tenant's purge lock shared (see the module)."""
        lock = tenant_lock(self._schema, tenant) if guarded else None
        while True:
            try:
                async with self._db.transaction(tenant, shared_lock=lock) as session:
                    await handle(session)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("consumer.infrastructure_down", group=self._group, error=str(exc))
                await asyncio.sleep(min(_MAX_INFRA_BACKOFF, self._retry.backoff_seconds * 4))

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

"""A Batched handler gets a partition's consecutive records of one tenant together, in
order, once each, with each event's own trace; the conformance suite runs the rest of the
consumer's guarantees (kills, poison, restarts) with it too."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.runtime.bus.local import LocalBus
from sextant.runtime.consumer import Batched, EventProcessor, Handler, each_in_context, each_of
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing import busworker

TOPIC = "batched.test"
OTHER_TENANT = uuid.UUID("00000000-0000-7000-8000-0000000000b2")


def event(seq: int, tenant: uuid.UUID = busworker.TENANT) -> Envelope:
    return Envelope(
        id=uuid.uuid5(tenant, f"batched-{seq}"),
        source="/sextant/test",
        type=busworker.EVENT_TYPE,
        subject="one-key",
        tenantid=tenant,
        traceparent=f"00-{seq:032x}-{seq:016x}-01",
        data={"seq": seq},
    )


class Recorder:
    """Each call's (tenant, seqs, traces seen while handling each)."""

    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, list[int], list[str | None]]] = []

    async def __call__(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        traces = [
            structlog.contextvars.get_contextvars().get("traceparent")
            for _ in each_in_context(envelopes)
        ]
        self.calls.append((envelopes[0].tenantid, [e.data["seq"] for e in envelopes], traces))

    @property
    def seqs(self) -> list[int]:
        return [s for _, seqs, _ in self.calls for s in seqs]


async def consume(
    database_url: str, envelopes: list[Envelope], expected: int, handler: Handler | None = None
) -> Recorder:
    """Publish ``envelopes`` on one key, then consume them with a Batched recorder (or
    ``handler``)."""
    await busworker.prepare(database_url)
    dsn = plain_dsn(database_url)
    bus = LocalBus(dsn, partitions=2)
    db = busworker.database(database_url)
    recorder = Recorder()
    await bus.start()
    await db.start()
    processor = EventProcessor(
        bus=bus,
        db=db,
        inbox=busworker.spine.inbox,
        group=f"batched-{uuid.uuid4().hex[:6]}",
        handlers={TOPIC: handler or Batched(recorder, max_batch=50)},
        max_records=500,
    )
    try:
        await bus.publish([record_for(e, TOPIC, "one-key") for e in envelopes])
        await processor.start()
        async with asyncio.timeout(30):
            while processor.handled < expected:
                await asyncio.sleep(0.05)
    finally:
        await processor.stop()
        await bus.stop()
        await db.stop()
    return recorder


async def test_a_backlog_comes_in_batches_of_at_most_max_batch_in_order(database_url):
    recorder = await consume(database_url, [event(n) for n in range(120)], 120)
    assert [len(seqs) for _, seqs, _ in recorder.calls] == [50, 50, 20]
    assert recorder.seqs == list(range(120))
    assert all(
        trace == event(seq).traceparent
        for _, seqs, traces in recorder.calls
        for seq, trace in zip(seqs, traces, strict=True)
    )


async def test_a_batch_holds_one_tenant_and_a_redelivery_is_handled_once(database_url):
    a, b = busworker.TENANT, OTHER_TENANT
    envelopes = [event(0, a), event(1, a), event(2, b), event(2, b), event(3, b), event(4, a)]
    envelopes.append(event(1, a))  # handled before, in an earlier batch: the inbox has it
    recorder = await consume(database_url, envelopes, len(envelopes))
    assert [(tenant, seqs) for tenant, seqs, _ in recorder.calls] == [
        (a, [0, 1]),
        (b, [2, 3]),
        (a, [4]),
    ]


async def test_each_of_runs_a_per_event_handler_for_a_batch_in_one_transaction(database_url):
    """A per-event handler made Batched with ``each_of``: 120 events in order, each with
    its own trace bound, in three transactions (50, 50, 20), not 120."""
    seen: list[tuple[int, int, str | None]] = []  # (seq, transaction, trace)

    async def one(session: AsyncSession, envelope: Envelope) -> None:
        trace = structlog.contextvars.get_contextvars().get("traceparent")
        transaction = (await session.execute(sa.text("SELECT txid_current()"))).scalar_one()
        seen.append((envelope.data["seq"], transaction, trace))

    await consume(database_url, [event(n) for n in range(120)], 120, each_of(one, max_batch=50))
    assert [seq for seq, _, _ in seen] == list(range(120))
    assert [trace for _, _, trace in seen] == [event(n).traceparent for n in range(120)]
    transactions = [transaction for _, transaction, _ in seen]
    assert [len(list(run)) for _, run in itertools.groupby(transactions)] == [50, 50, 20]


async def test_a_handler_that_claims_no_inbox_gets_every_copy_and_leaves_no_inbox_row(
    database_url,
):
    """``claims_inbox=False``: the handler's own idempotence is trusted, so a copy
    redelivered after its batch comes to it again, and the inbox stays empty."""
    recorder = Recorder()
    envelopes = [event(0), event(1), event(1), event(2), event(0)]
    await consume(database_url, envelopes, len(envelopes), Batched(recorder, 3, claims_inbox=False))
    # a copy within a batch is once (the consumer's own); the copy of 0 after its batch is not
    assert [seqs for _, seqs, _ in recorder.calls] == [[0, 1], [2, 0]]
    db = busworker.database(database_url)
    await db.start()
    try:
        async with db.transaction(busworker.TENANT) as session:
            ids = [e.inbox_id for e in envelopes]
            claimed = await session.scalar(
                sa.select(sa.func.count())
                .select_from(busworker.spine.inbox)
                .where(busworker.spine.inbox.c.event_id.in_(ids))
            )
    finally:
        await db.stop()
    assert claimed == 0

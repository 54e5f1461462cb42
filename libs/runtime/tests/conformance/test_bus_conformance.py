"""The EventBus conformance suite, run against both transports over real servers.

Every assertion is about effects in PostgreSQL: the ``effects`` table has no unique
constraint, so a duplicate effect would show as a second row, and a lost event as a
missing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from sextant.runtime.bus.base import EventBus, OutgoingRecord
from sextant.runtime.consumer import EventProcessor, RetryPolicy
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import OutboxRelay, record_for
from sextant.runtime.testing import busworker
from sextant.runtime.testing.servers import TansuBroker

from .conftest import BusUnderTest, wait_for_line

pytestmark = pytest.mark.conformance


@dataclass(frozen=True)
class EffectCounts:
    rows: int
    distinct_events: int
    order_violations: int
    members: int


async def effect_counts(database_url: str) -> EffectCounts:
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        row = await conn.fetchrow(
            """SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct_events,
                      count(DISTINCT member) AS members FROM conformance.effects"""
        )
        violations = await conn.fetchval(
            """SELECT count(*) FROM (
                 SELECT seq < lag(seq) OVER (PARTITION BY key ORDER BY id) AS backwards
                 FROM conformance.effects) s WHERE backwards"""
        )
    finally:
        await conn.close()
    return EffectCounts(row["rows"], row["distinct_events"], violations, row["members"])


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def records(
    topic: str, seqs: range, keys: int, poison: frozenset[int] = frozenset()
) -> list[OutgoingRecord]:
    out = []
    for seq in seqs:
        key = f"key-{seq % keys}"
        out.append(record_for(busworker.envelope(seq, key, poison=seq in poison), topic, key))
    return out


async def publish_retrying(bus: EventBus, batch: list[OutgoingRecord]) -> None:
    """Publish a batch, retrying while the broker or database is away (duplicates are fine)."""
    while True:
        try:
            await bus.publish(batch)
            return
        except Exception:
            await asyncio.sleep(0.3)


def in_process_consumer(under_test: BusUnderTest, bus: EventBus, db, member: str) -> EventProcessor:  # type: ignore[no-untyped-def]
    return EventProcessor(
        bus=bus,
        db=db,
        inbox=busworker.spine.inbox,
        group=under_test.group,
        handlers={under_test.topic: busworker.make_handler(member, batched=under_test.batched)},
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        max_records=200,
    )


async def test_order_per_key_holds_and_two_members_share_the_work(bus_under_test: BusUnderTest):
    total = 2000
    bus = bus_under_test.bus()
    await bus.start()
    db = busworker.database(bus_under_test.database_url)
    await db.start()
    first = in_process_consumer(bus_under_test, bus, db, "first")
    second = in_process_consumer(bus_under_test, bus, db, "second")
    try:
        await first.start()
        await second.start()
        # Over ~4 s, several of the local bus's 1 s rebalances: a member that keeps up with
        # everything (batched) would otherwise finish before the second one is given work.
        for start in range(0, total, 250):
            await bus.publish(records(bus_under_test.topic, range(start, start + 250), keys=40))
            await asyncio.sleep(0.5)
        await wait_for(
            lambda: _distinct_at_least(bus_under_test.database_url, total), 120, "every effect"
        )
        await asyncio.sleep(1)  # let any stray duplicate land before counting
        counts = await effect_counts(bus_under_test.database_url)
    finally:
        await first.stop()
        await second.stop()
        await bus.stop()
        await db.stop()
    assert counts == EffectCounts(rows=total, distinct_events=total, order_violations=0, members=2)
    assert first.handled > 0 and second.handled > 0


async def _distinct_at_least(url: str, n: int) -> bool:
    return (await effect_counts(url)).distinct_events >= n


async def test_consumer_killed_ten_times_mid_batch_loses_and_doubles_nothing(
    bus_under_test: BusUnderTest, tmp_path: Path
):
    total, kills = 10_000, 10
    rng = random.Random(20261124)
    bus = bus_under_test.bus()
    await bus.start()

    async def produce() -> None:
        # ~35 s of work arriving: past the ten kills even for a consumer (batched) that
        # keeps up with it, so each kill can land while records are flowing.
        for start in range(0, total, 100):
            await bus.publish(records(bus_under_test.topic, range(start, start + 100), keys=50))
            await asyncio.sleep(0.35)

    producer = asyncio.create_task(produce())
    killed_with_work_done = 0
    try:
        for _ in range(kills):
            worker = bus_under_test.start_worker("consume", tmp_path)
            await asyncio.to_thread(wait_for_line, worker, "CONSUMING")
            before = (await effect_counts(bus_under_test.database_url)).distinct_events
            if before < total:
                # Strike only once this member is working (a Kafka rejoin takes seconds), at a
                # random moment, so kills land mid-batch rather than during start-up.
                with contextlib.suppress(AssertionError):
                    await wait_for(
                        lambda n=before + 1: _distinct_at_least(bus_under_test.database_url, n),
                        60,
                        "the new member to make progress",
                    )
                await asyncio.sleep(rng.uniform(0.0, 0.6))
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
            after = (await effect_counts(bus_under_test.database_url)).distinct_events
            killed_with_work_done += after > before
        await producer
        survivor = bus_under_test.start_worker("consume", tmp_path)
        await wait_for(
            lambda: _distinct_at_least(bus_under_test.database_url, total), 240, "all effects"
        )
        survivor.send_signal(signal.SIGTERM)
        await asyncio.to_thread(survivor.wait, 30)
        counts = await effect_counts(bus_under_test.database_url)
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        await bus.stop()
    assert counts.rows == total, "a duplicate or lost effect"
    assert counts.distinct_events == total
    assert counts.order_violations == 0
    assert killed_with_work_done >= kills // 2, "the kills should land while work is flowing"


async def test_producer_killed_after_commit_publishes_from_outbox_on_restart(
    bus_under_test: BusUnderTest, tmp_path: Path
):
    total = 300
    producer = bus_under_test.start_worker(
        "produce-and-hang", tmp_path, CONFORMANCE_COUNT=str(total)
    )
    await asyncio.to_thread(wait_for_line, producer, "COMMITTED")
    producer.send_signal(signal.SIGKILL)  # after the DB commit, before any publish
    await asyncio.to_thread(producer.wait)

    conn = await asyncpg.connect(plain_dsn(bus_under_test.database_url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM conformance.outbox") == total
    finally:
        await conn.close()

    bus = bus_under_test.bus()
    await bus.start()
    db = busworker.database(bus_under_test.database_url)
    await db.start()
    relay = OutboxRelay(db, busworker.spine.outbox, bus)  # the restarted producer's relay
    consumer = in_process_consumer(bus_under_test, bus, db, "after-restart")
    try:
        await relay.start()
        await consumer.start()
        await wait_for(
            lambda: _distinct_at_least(bus_under_test.database_url, total), 60, "outbox events"
        )
        await asyncio.sleep(0.5)
        counts = await effect_counts(bus_under_test.database_url)
    finally:
        await consumer.stop()
        await relay.stop()
        await bus.stop()
        await db.stop()
    assert counts.rows == total and counts.distinct_events == total and counts.order_violations == 0


async def test_poison_message_is_dead_lettered_and_the_partition_keeps_flowing(
    bus_under_test: BusUnderTest,
):
    poison = frozenset({5, 17})
    good = [r for r in records(bus_under_test.topic, range(40), keys=1, poison=poison)]
    malformed = OutgoingRecord(
        topic=bus_under_test.topic, key="key-0", headers=(("ce_type", b"x"),), value=b"{not json"
    )
    bus = bus_under_test.bus()
    await bus.start()
    db = busworker.database(bus_under_test.database_url)
    await db.start()
    consumer = in_process_consumer(bus_under_test, bus, db, "poisoned")
    dlq = bus.consumer(f"{bus_under_test.group}-dlq-reader", [bus_under_test.topic + ".dlq"])
    try:
        await bus.publish([*good[:10], malformed, *good[10:]])
        await consumer.start()
        await wait_for(
            lambda: _distinct_at_least(bus_under_test.database_url, 38), 60, "the good events"
        )
        await dlq.start()
        dead = []
        for _ in range(60):
            for batch in (await dlq.poll(100, timeout=0.5)).values():
                dead.extend(batch)
            if len(dead) >= 3:
                break
        counts = await effect_counts(bus_under_test.database_url)
    finally:
        await dlq.stop()
        await consumer.stop()
        await bus.stop()
        await db.stop()
    assert counts.rows == 38 and counts.order_violations == 0
    assert len(dead) == 3
    by_attempts = sorted(dict(r.headers)["sextant_attempts"] for r in dead)
    assert by_attempts == [b"1", b"3", b"3"]  # malformed: once; poison: max_attempts
    assert all(dict(r.headers)["sextant_error"] for r in dead)
    assert {dict(r.headers)["sextant_original_topic"] for r in dead} == {
        bus_under_test.topic.encode()
    }


async def test_restarting_the_broker_or_database_mid_stream_loses_and_doubles_nothing(
    bus_kind: str,
    handling: str,
    database_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
):
    total = 4000
    restart: Callable[[], None]
    if bus_kind == "kafka":
        broker: TansuBroker = request.getfixturevalue("restartable_broker")
        under_test = BusUnderTest(
            "kafka", database_url, broker.bootstrap, batched=handling == "batched"
        )
        restart = lambda: broker.restart(down_seconds=2)  # noqa: E731
    else:
        server = EmbeddedPostgres(tmp_path / "restartable-pg")
        database_url = server.start()
        request.addfinalizer(server.destroy)
        under_test = BusUnderTest("local", database_url, None, batched=handling == "batched")

        def restart() -> None:
            server.kill()
            time.sleep(2)
            server.start()

    await under_test.prepare()

    bus = under_test.bus()
    await bus.start()
    consumer_process = under_test.start_worker("consume", tmp_path)
    await asyncio.to_thread(wait_for_line, consumer_process, "CONSUMING")

    async def produce() -> None:
        for start in range(0, total, 100):
            await publish_retrying(
                bus, records(under_test.topic, range(start, start + 100), keys=20)
            )
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    try:
        await wait_for(lambda: _distinct_at_least(database_url, 500), 60, "the stream to flow")
        await asyncio.to_thread(restart)
        await producer
        await wait_for(
            lambda: _distinct_at_least(database_url, total), 240, "every effect after restart"
        )
        await asyncio.sleep(1)
        counts = await effect_counts(database_url)
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        consumer_process.send_signal(signal.SIGKILL)
        consumer_process.wait()
        await bus.stop()
    assert counts.rows == total, "a duplicate or lost effect"
    assert counts.distinct_events == total
    assert counts.order_violations == 0

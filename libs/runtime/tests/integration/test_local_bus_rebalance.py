"""Local-bus partitions move when a group's membership changes, not at the next tick: a
member that joins gets its share, one that leaves or dies hands its share over, and the
records keep their per-key order with none lost.

The periodic re-read is pushed out to an hour here, so whatever moves within the test's
bounds was moved by the membership events themselves."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from itertools import count

import asyncpg
import pytest

from sextant.runtime.bus.base import PartitionKey
from sextant.runtime.bus.local import LocalBus, LocalConsumer
from sextant.runtime.consumer import EventProcessor, RetryPolicy
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing import busworker

PARTITIONS = 4
KEYS = [f"key-{i}" for i in range(16)]
BOUND = 20.0  # seconds: a box loaded by two test files at once; far below the hour-long tick
DRAIN = 30.0  # seconds to handle a few hundred records one transaction each, loaded


@pytest.fixture(autouse=True)
def no_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LocalConsumer, "REBALANCE_EVERY", 3600.0)


@contextlib.asynccontextmanager
async def local_bus(database_url: str, partitions: int = PARTITIONS) -> AsyncIterator[LocalBus]:
    bus = LocalBus(plain_dsn(database_url), partitions=partitions)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


async def eventually(condition: object, what: str, bound: float = BOUND) -> None:
    """Wait until ``condition()`` holds, at most ``bound`` seconds."""
    assert callable(condition)
    try:
        async with asyncio.timeout(bound):
            while not await condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"not within {bound}s: {what}")


async def test_a_joining_and_a_leaving_member_move_partitions_at_once_keeping_order(
    database_url: str,
) -> None:
    await busworker.prepare(database_url)
    topic, group = f"rebalance.{secrets.token_hex(3)}", f"g-{secrets.token_hex(3)}"
    db = busworker.database(database_url)
    await db.start()
    seqs = count()

    async def publish(bus: LocalBus, n: int) -> None:
        batch = []
        for _ in range(n):
            seq = next(seqs)
            key = KEYS[seq % len(KEYS)]
            batch.append(record_for(busworker.envelope(seq, key), topic, key))
        await bus.publish(batch)

    def member(bus: LocalBus, name: str) -> EventProcessor:
        return EventProcessor(
            bus=bus,
            db=db,
            inbox=busworker.spine.inbox,
            group=group,
            handlers={topic: busworker.make_handler(name)},
            retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
            max_records=20,
        )

    conn = await asyncpg.connect(plain_dsn(database_url))

    async def handled_by(name: str) -> int:
        return int(
            await conn.fetchval("SELECT count(*) FROM conformance.effects WHERE member = $1", name)
        )

    async def handled() -> int:
        return int(await conn.fetchval("SELECT count(DISTINCT seq) FROM conformance.effects"))

    try:
        async with (
            local_bus(database_url) as bus_a,
            local_bus(database_url) as bus_b,
            contextlib.AsyncExitStack() as running,
        ):
            a, b = member(bus_a, "a"), member(bus_b, "b")
            running.push_async_callback(b.stop)  # a failed wait still stops both
            running.push_async_callback(a.stop)
            await a.start()
            await publish(bus_a, 200)
            await eventually(lambda: _at_least(handled_by("a"), 1), "the first member consumes")

            await b.start()
            # Records keep coming while the group rebalances; the newcomer gets its share.
            for _ in range(10):
                await publish(bus_a, 20)
                await asyncio.sleep(0.05)
            await eventually(lambda: _at_least(handled_by("b"), 1), "the joining member consumes")

            await a.stop()
            handled_by_a = await handled_by("a")
            await publish(bus_b, 200)
            total = next(seqs)
            await eventually(
                lambda: _at_least(handled(), total), "the other member takes over", DRAIN
            )
            await b.stop()
            assert await handled_by("a") == handled_by_a  # a really left

        rows = await conn.fetch("SELECT key, seq FROM conformance.effects ORDER BY id")
        assert sorted(r["seq"] for r in rows) == list(range(total))  # each once, none lost
        by_key: dict[str, list[int]] = {}
        for row in rows:
            by_key.setdefault(row["key"], []).append(row["seq"])
        for key, key_seqs in by_key.items():
            assert key_seqs == sorted(key_seqs), f"{key} out of order"
    finally:
        await conn.close()
        await db.stop()


async def _at_least(value: object, floor: int) -> bool:
    assert asyncio.iscoroutine(value)
    return int(await value) >= floor


async def test_a_dead_members_partitions_are_taken_without_waiting_for_a_tick(
    database_url: str,
) -> None:
    """A member whose connections drop (a SIGKILL'd process: it never says goodbye)."""
    topic, group = f"rebalance.{secrets.token_hex(3)}", f"g-{secrets.token_hex(3)}"
    everything: set[PartitionKey] = {(topic, p) for p in range(PARTITIONS)}
    async with local_bus(database_url) as bus:
        a, b = bus.consumer(group, [topic]), bus.consumer(group, [topic])

        async def keep_polling(consumer: LocalConsumer) -> None:
            while True:
                await consumer.poll(100, timeout=0.2)

        polling: list[asyncio.Task[None]] = []
        try:
            await a.start()
            polling.append(asyncio.create_task(keep_polling(a)))
            await eventually(lambda: _is(a.assignment == everything), "a alone owns everything")

            await b.start()
            polling.append(asyncio.create_task(keep_polling(b)))
            await eventually(
                lambda: _is(len(b.assignment) == 2 and a.assignment | b.assignment == everything),
                "b joins and gets its half",
            )
            assert not a.assignment & b.assignment

            # a dies: its tasks stop and its connections drop, with no goodbye.
            polling[0].cancel()
            for task in (a._watcher, a._listener._task):  # as a SIGKILL would
                assert task is not None
                task.cancel()
            assert a._lock_conn is not None
            a._lock_conn.terminate()

            await eventually(lambda: _is(b.assignment == everything), "b takes a's partitions")
        finally:
            for task in polling:
                task.cancel()
            await asyncio.gather(*polling, return_exceptions=True)
            await b.stop()
            await a.stop()


async def _is(value: bool) -> bool:
    return value

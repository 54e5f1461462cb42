"""Both transports tell a consumer group's lag and a topic's DLQ depth alike (what the
``/metrics`` gauges show): three records unconsumed are a lag of three, none once the
group committed them all; one dead letter is a depth of one.

The three records go to three partitions (by the Kafka partitioner's own hash): tansu,
the test broker, answers a partition's end offset as 1 however many records it holds
(seen: offsets 0 and 1 polled, end offset 1), where Kafka answers the next offset."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.partitioner import murmur2

from sextant.runtime.bus.base import Backlog, OutgoingRecord

from .conftest import PARTITIONS, BusUnderTest


def keys_of_distinct_partitions(count: int) -> list[str]:
    """``count`` keys Kafka's default partitioner puts on different partitions."""
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < count:
        key = f"t/-/item-{n}"
        keys.setdefault((murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS, key)
        n += 1
    return list(keys.values())


@pytest.fixture
async def under_test(
    bus_kind: str, database_url: str, request: pytest.FixtureRequest
) -> BusUnderTest:
    bootstrap = request.getfixturevalue("kafka_bootstrap") if bus_kind == "kafka" else None
    prepared = BusUnderTest(bus_kind, database_url, bootstrap)
    await prepared.prepare()
    return prepared


async def test_lag_falls_to_zero_as_the_group_commits_and_dead_letters_are_counted(
    under_test: BusUnderTest,
) -> None:
    topic, group = under_test.topic, under_test.group
    bus = under_test.bus()
    await bus.start()
    try:
        await bus.publish(
            [OutgoingRecord(topic, key, (), b"{}") for key in keys_of_distinct_partitions(3)]
            + [OutgoingRecord(f"{topic}.dlq", "t/-/item-9", (), b"{}")]
        )
        assert await bus.backlog(group, [topic]) == Backlog(lag={topic: 3}, dead_letters={topic: 1})
        consumer = bus.consumer(group, [topic])
        await consumer.start()
        try:
            seen = 0
            async with asyncio.timeout(30):
                while seen < 3:
                    batch = await consumer.poll(100, timeout=0.5)
                    seen += sum(len(records) for records in batch.values())
                    await consumer.commit(
                        {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    )
        finally:
            await consumer.stop()
        assert await bus.backlog(group, [topic]) == Backlog(lag={topic: 0}, dead_letters={topic: 1})
    finally:
        await bus.stop()

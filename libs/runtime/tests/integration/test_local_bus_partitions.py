"""The local bus's partition count comes from the settings, and a process configured with
another count than the one the bus was created with refuses to start (its keys would land
on other partitions, breaking per-key order)."""

from __future__ import annotations

import asyncpg
import pytest

from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.bus.local import SCHEMA, LocalBus
from sextant.runtime.db import plain_dsn
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import create_bus


async def test_records_spread_over_the_configured_partitions(database_url: str) -> None:
    settings = RuntimeSettings(database_url=database_url, local_bus_partitions=3)
    bus = create_bus(settings)
    assert isinstance(bus, LocalBus)
    await bus.start()
    try:
        await bus.publish([OutgoingRecord("spread", f"key-{i}", (), b"{}") for i in range(60)])
        consumer = bus.consumer("g", ["spread"])
        await consumer.start()
        await consumer.poll(100, timeout=0.1)
        assert consumer.assignment == {("spread", 0), ("spread", 1), ("spread", 2)}
        await consumer.stop()
    finally:
        await bus.stop()
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        used = {r[0] for r in await conn.fetch(f"SELECT DISTINCT partition FROM {SCHEMA}.records")}
    finally:
        await conn.close()
    assert used == {0, 1, 2}


async def test_another_partition_count_than_the_bus_was_created_with_is_refused(
    database_url: str,
) -> None:
    dsn = plain_dsn(database_url)
    first = LocalBus(dsn, partitions=3)
    await first.start()
    await first.stop()
    with pytest.raises(
        ValueError, match="has 3 partitions per topic, but SEXTANT_LOCAL_BUS_PARTITIONS is 8"
    ):
        await LocalBus(dsn, partitions=8).start()
    again = LocalBus(dsn, partitions=3)
    await again.start()  # the same count starts
    await again.stop()


async def test_a_poll_gives_its_budget_to_the_partitions_with_records(database_url: str) -> None:
    """Not split evenly over every owned partition (90 // 3 = 30 each): the one busy
    partition's backlog comes 85 at once, the other's 5 with it."""
    settings = RuntimeSettings(database_url=database_url, local_bus_partitions=3)
    bus = create_bus(settings)
    await bus.start()
    try:
        busy, quiet = "key-0", "key-1"
        await bus.publish([OutgoingRecord("shares", busy, (), b"{}") for _ in range(200)])
        await bus.publish([OutgoingRecord("shares", quiet, (), b"{}") for _ in range(5)])
        consumer = bus.consumer("g", ["shares"])
        await consumer.start()
        try:
            polled = await consumer.poll(90, timeout=0.1)
        finally:
            await consumer.stop()
    finally:
        await bus.stop()
    assert sorted(len(records) for records in polled.values()) == [5, 85]

"""The Kafka bus's readiness probe keeps one admin client for the process's life (closed on
stop), and follows the broker down and up again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from sextant.runtime.bus import kafka
from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.testing.servers import TansuBroker


class CountedAdminClient(AIOKafkaAdminClient):
    """aiokafka's admin client, counting how many were built and closed."""

    built: list[CountedAdminClient] = []
    closed: list[CountedAdminClient] = []

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.built.append(self)

    async def close(self) -> None:
        self.closed.append(self)
        await super().close()


async def pings_until(bus: KafkaBus, ready: bool, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.2)):
        if await bus.ping() is ready:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the probe did not turn {ready}")


async def test_probes_share_one_client_and_follow_the_broker_down_and_up(
    restartable_broker: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CountedAdminClient, "built", [])
    monkeypatch.setattr(CountedAdminClient, "closed", [])
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", CountedAdminClient)
    bus = KafkaBus(restartable_broker.bootstrap)
    await bus.start()
    try:
        assert [await bus.ping() for _ in range(20)] == [True] * 20
        assert await asyncio.gather(*(bus.ping() for _ in range(10))) == [True] * 10
        assert len(CountedAdminClient.built) == 1

        await asyncio.to_thread(restartable_broker.stop)
        await pings_until(bus, False)
        await asyncio.to_thread(restartable_broker.start)
        await pings_until(bus, True)
        rebuilt = len(CountedAdminClient.built)
        assert [await bus.ping() for _ in range(10)] == [True] * 10
        assert len(CountedAdminClient.built) == rebuilt  # one client again, once it is back
    finally:
        await bus.stop()
    assert CountedAdminClient.closed == CountedAdminClient.built  # none left open

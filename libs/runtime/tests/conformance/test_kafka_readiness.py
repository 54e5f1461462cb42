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


class AdminClients:
    """Builds aiokafka's admin clients in the bus's stead, counting those built and closed."""

    def __init__(self) -> None:
        self.built: list[AIOKafkaAdminClient] = []
        self.closed: list[AIOKafkaAdminClient] = []

    def __call__(self, **options: Any) -> AIOKafkaAdminClient:
        client = AIOKafkaAdminClient(**options)
        self.built.append(client)
        close = client.close

        async def counted_close() -> None:
            self.closed.append(client)
            await close()

        client.close = counted_close
        return client


async def pings_until(bus: KafkaBus, ready: bool, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.2)):
        if await bus.ping() is ready:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the probe did not turn {ready}")


async def test_probes_share_one_client_and_follow_the_broker_down_and_up(
    restartable_broker: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = AdminClients()
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", clients)
    bus = KafkaBus(restartable_broker.bootstrap)
    await bus.start()
    try:
        assert [await bus.ping() for _ in range(20)] == [True] * 20
        assert await asyncio.gather(*(bus.ping() for _ in range(10))) == [True] * 10
        assert len(clients.built) == 1

        await asyncio.to_thread(restartable_broker.stop)
        await pings_until(bus, False)
        await asyncio.to_thread(restartable_broker.start)
        await pings_until(bus, True)
        rebuilt = len(clients.built)
        assert [await bus.ping() for _ in range(10)] == [True] * 10
        assert len(clients.built) == rebuilt  # one client again, once it is back
    finally:
        await bus.stop()
    assert clients.closed == clients.built  # none left open

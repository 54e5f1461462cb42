"""The event bus: one interface, a Kafka transport and a local transport over PostgreSQL."""

from sextant.runtime.bus.base import (
    BusConsumer,
    EventBus,
    IncomingRecord,
    OutgoingRecord,
    PartitionKey,
)

__all__ = ["BusConsumer", "EventBus", "IncomingRecord", "OutgoingRecord", "PartitionKey"]

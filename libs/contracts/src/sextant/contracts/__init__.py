"""Sextant's shared event contracts: pure Pydantic schemas a partner can install alone.

Every event on every topic is an :class:`Envelope` (CloudEvents 1.0 attribute names plus
Sextant's tenancy extensions) whose ``data`` is one of the registered event models.
"""

from sextant.contracts.envelope import (
    Envelope,
    from_kafka_binary,
    kafka_headers,
    to_kafka_binary,
)
from sextant.contracts.ids import uuid5, uuid7
from sextant.contracts.registry import (
    EVENT_TYPES,
    TOPICS,
    EventModel,
    Topic,
    data_model_for,
    event_type,
    topic_for_type,
)

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "Envelope",
    "EventModel",
    "Topic",
    "data_model_for",
    "event_type",
    "from_kafka_binary",
    "kafka_headers",
    "to_kafka_binary",
    "topic_for_type",
    "uuid5",
    "uuid7",
]

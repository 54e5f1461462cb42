"""What every transport provides. Records carry CloudEvents binary-mode headers and a value.

A transport only moves bytes and offsets; parsing, the inbox, retries and the DLQ are done
once for both transports by :mod:`sextant.runtime.consumer`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Headers = tuple[tuple[str, bytes], ...]
PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: str
    headers: Headers
    value: bytes


@dataclass(frozen=True)
class IncomingRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: Headers
    value: bytes


@dataclass(frozen=True)
class Backlog:
    """What waits on the bus for a consumer group, by topic (a metrics scrape's view)."""

    lag: dict[str, int]  # records not yet committed by the group
    dead_letters: dict[str, int]  # records in the topic's DLQ (``<topic>.dlq``)


class BusConsumer(Protocol):
    """A member of a consumer group. Offsets are committed only when the caller says so."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def poll(
        self, max_records: int, timeout: float
    ) -> dict[PartitionKey, list[IncomingRecord]]:
        """Records from the partitions this member owns, in offset order per partition."""
        ...

    async def commit(self, offsets: dict[PartitionKey, int]) -> None:
        """Record that everything below each ``next offset`` is done."""
        ...


class EventBus(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> bool: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return only when every record is durably stored by the bus (acks=all / committed)."""
        ...

    def consumer(self, group: str, topics: Sequence[str]) -> BusConsumer: ...

    async def backlog(self, group: str, topics: Sequence[str]) -> Backlog:
        """``group``'s lag on ``topics`` and the depth of their DLQs."""
        ...


def partition_for(key: str, partitions: int) -> int:
    """Stable key → partition mapping for the local bus (Kafka uses its own murmur2)."""
    return zlib.crc32(key.encode()) % partitions

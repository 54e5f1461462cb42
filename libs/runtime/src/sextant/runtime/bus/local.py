"""The embedded mode's durable bus: an append-only log in PostgreSQL with Kafka's semantics.

- A topic has a fixed number of partitions; a key always lands on the same partition, and a
  partition's offsets are assigned under a row lock, so commit order is offset order.
- A consumer group splits the partitions among its live members. A member holds a
  session-level advisory lock per partition it consumes, so two members never read the
  same partition at once, and a killed member's locks vanish with its connection.
  Liveness is that connection itself (its backend pid), so failover needs no timeout.
- Consumers are woken by NOTIFY on append, so latency is not a poll interval.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import structlog

from sextant.contracts import uuid7
from sextant.runtime.bus.base import IncomingRecord, OutgoingRecord, PartitionKey, partition_for
from sextant.runtime.pgnotify import Listener
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

SCHEMA = "sextant_bus"
CHANNEL = "sextant_bus"
_DDL_LOCK = 0x5E87B05
_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.partitions (
    topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS {SCHEMA}.records (
    topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL,
    key text, headers jsonb NOT NULL, value bytea NOT NULL,
    appended_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset"));
CREATE INDEX IF NOT EXISTS records_appended_at ON {SCHEMA}.records (appended_at);
CREATE TABLE IF NOT EXISTS {SCHEMA}.group_offsets (
    group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
    PRIMARY KEY (group_id, topic, partition));
CREATE TABLE IF NOT EXISTS {SCHEMA}.members (
    group_id text NOT NULL, member_id text NOT NULL, backend_pid int NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, member_id));
"""

_APPEND = f"""
WITH appended AS (
    SELECT r.*, row_number() OVER (PARTITION BY topic, partition ORDER BY n) AS place,
           count(*) OVER (PARTITION BY topic, partition) AS size
    FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[], $5::bytea[]) WITH ORDINALITY
         AS r(topic, partition, key, headers, value, n)
), claimed AS (
    INSERT INTO {SCHEMA}.partitions AS p (topic, partition, next_offset)
    SELECT DISTINCT topic, partition, size FROM appended ORDER BY topic, partition
    ON CONFLICT (topic, partition) DO UPDATE SET next_offset = p.next_offset + excluded.next_offset
    RETURNING topic, partition, next_offset
), stored AS (
    INSERT INTO {SCHEMA}.records (topic, partition, "offset", key, headers, value)
    SELECT a.topic, a.partition, c.next_offset - a.size + a.place - 1, a.key, a.headers, a.value
    FROM appended a JOIN claimed c USING (topic, partition)
)
SELECT pg_notify($6, topic) FROM (SELECT DISTINCT topic FROM appended) AS topics"""

_CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return orjson.dumps(
        [[name, base64.b64encode(value).decode()] for name, value in headers]
    ).decode()


def _decode_headers(raw: str | list[Any]) -> tuple[tuple[str, bytes], ...]:
    items = orjson.loads(raw) if isinstance(raw, str) else raw
    return tuple((name, base64.b64decode(value)) for name, value in items)


class LocalBus:
    """EventBus over PostgreSQL (see module docstring)."""

    name = "local"

    def __init__(self, dsn: str, *, partitions: int = 8, retention_days: float = 7) -> None:
        self._dsn = dsn
        self.partitions = partitions
        self._retention_days = retention_days
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                await conn.execute(_DDL)
        finally:
            await conn.close()
        await self._ensure_pool()
        self._pruner = asyncio.create_task(self._prune_periodically(), name="local-bus-pruner")

    async def _prune_periodically(self, every_seconds: float = 3600) -> None:
        while True:
            try:
                removed = await self.prune()
                if removed:
                    log.info("bus.local.pruned", records=removed)
            except Exception as exc:
                log.warning("bus.local.prune_failed", error=str(exc))
            await asyncio.sleep(every_seconds)

    async def _ensure_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10)
            return self._pool

    async def stop(self) -> None:
        await cancel_and_wait(self._pruner)
        self._pruner = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        try:
            pool = await self._ensure_pool()
            async with pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
            return True
        except Exception:
            return False

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Append ``records`` in one statement (so one round trip, one transaction): each
        partition's offsets are claimed under its row lock, taken in sorted order so two
        publishers never deadlock, and each topic's consumers are woken on commit."""
        if not records:
            return
        pool = await self._ensure_pool()
        await pool.execute(
            _APPEND,
            [r.topic for r in records],
            [partition_for(r.key, self.partitions) for r in records],
            [r.key for r in records],
            [_encode_headers(r.headers) for r in records],
            [r.value for r in records],
            CHANNEL,
        )

    def consumer(self, group: str, topics: Sequence[str]) -> LocalConsumer:
        return LocalConsumer(self, group, list(topics))

    async def prune(self) -> int:
        """Drop records past retention; returns how many went."""
        pool = await self._ensure_pool()
        result: str = await pool.execute(
            f"DELETE FROM {SCHEMA}.records WHERE appended_at < now() - $1::interval",
            timedelta(days=self._retention_days),
        )
        return int(result.split()[-1])

    @property
    def dsn(self) -> str:
        return self._dsn

    async def pool(self) -> asyncpg.Pool:
        return await self._ensure_pool()


class LocalConsumer:
    """One member of a consumer group on the local bus."""

    REBALANCE_EVERY = 1.0

    def __init__(self, bus: LocalBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._member_id = str(uuid7())
        self._lock_conn: asyncpg.Connection | None = None
        self._owned: set[PartitionKey] = set()
        self._last_rebalance = 0.0
        self._listener = Listener(bus.dsn, CHANNEL, accept=lambda topic: topic in topics)

    @property
    def assignment(self) -> set[PartitionKey]:
        return set(self._owned)

    async def start(self) -> None:
        await self._listener.start()
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await self._join()

    async def stop(self) -> None:
        await self._listener.stop()
        await self._leave()

    async def _join(self) -> None:
        self._lock_conn = await asyncpg.connect(self._bus.dsn, timeout=5)
        pid = self._lock_conn.get_server_pid()
        await self._lock_conn.execute(
            f"INSERT INTO {SCHEMA}.members (group_id, member_id, backend_pid) VALUES ($1, $2, $3) "
            "ON CONFLICT (group_id, member_id) DO UPDATE SET backend_pid = excluded.backend_pid",
            self._group,
            self._member_id,
            pid,
        )
        self._owned = set()
        self._last_rebalance = 0.0

    async def _leave(self) -> None:
        conn, self._lock_conn, self._owned = self._lock_conn, None, set()
        if conn is None or conn.is_closed():
            return
        with contextlib.suppress(Exception):
            await conn.execute(
                f"DELETE FROM {SCHEMA}.members WHERE group_id = $1 AND member_id = $2",
                self._group,
                self._member_id,
            )
            await conn.close(timeout=2)  # closing releases every advisory lock we held

    async def _rebalance(self) -> None:
        conn = self._lock_conn
        assert conn is not None
        live: list[str] = [
            row["member_id"]
            for row in await conn.fetch(
                f"SELECT member_id FROM {SCHEMA}.members m WHERE group_id = $1 AND EXISTS "
                "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid) ORDER BY member_id",
                self._group,
            )
        ]
        await conn.execute(
            f"DELETE FROM {SCHEMA}.members m WHERE group_id = $1 AND NOT EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid)",
            self._group,
        )
        if self._member_id not in live:
            await self._leave()
            await self._join()
            return
        everything = [(t, p) for t in sorted(self._topics) for p in range(self._bus.partitions)]
        me, members = live.index(self._member_id), len(live)
        wanted = {tp for i, tp in enumerate(everything) if i % members == me}
        for tp in self._owned - wanted:
            await conn.fetchval(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", self._lock_name(tp)
            )
            self._owned.discard(tp)
        for tp in wanted - self._owned:
            if await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self._lock_name(tp)
            ):
                self._owned.add(tp)
        self._last_rebalance = asyncio.get_running_loop().time()

    def _lock_name(self, tp: PartitionKey) -> str:
        return f"sextant_bus:{self._group}:{tp[0]}:{tp[1]}"

    async def poll(
        self, max_records: int, timeout: float
    ) -> dict[PartitionKey, list[IncomingRecord]]:
        try:
            if self._lock_conn is None or self._lock_conn.is_closed():
                await self._join()
            loop = asyncio.get_running_loop()
            if loop.time() - self._last_rebalance >= self.REBALANCE_EVERY:
                await self._rebalance()
            records = await self._fetch(max_records)
            if not records:
                await self._listener.wait(min(timeout, self.REBALANCE_EVERY))
                records = await self._fetch(max_records)
            return records
        except _CONNECTION_ERRORS as exc:
            log.warning("bus.local.disconnected", group=self._group, error=str(exc))
            self._owned = set()
            if self._lock_conn is not None:
                self._lock_conn.terminate()
                self._lock_conn = None
            await asyncio.sleep(0.5)
            return {}

    async def _fetch(self, max_records: int) -> dict[PartitionKey, list[IncomingRecord]]:
        if not self._owned:
            return {}
        owned = sorted(self._owned)
        per_partition = max(1, max_records // len(owned))
        pool = await self._bus.pool()
        rows = await pool.fetch(
            f"""SELECT r.topic, r.partition, r."offset", r.key, r.headers, r.value
            FROM unnest($1::text[], $2::int[]) AS o(topic, partition)
            LEFT JOIN {SCHEMA}.group_offsets g
              ON g.group_id = $3 AND g.topic = o.topic AND g.partition = o.partition
            CROSS JOIN LATERAL (
              SELECT * FROM {SCHEMA}.records r
              WHERE r.topic = o.topic AND r.partition = o.partition
                AND r."offset" >= COALESCE(g.next_offset, 0)
              ORDER BY r."offset" LIMIT $4) r
            ORDER BY r.topic, r.partition, r."offset\"""",
            [t for t, _ in owned],
            [p for _, p in owned],
            self._group,
            per_partition,
        )
        out: dict[PartitionKey, list[IncomingRecord]] = defaultdict(list)
        for row in rows:
            out[(row["topic"], row["partition"])].append(
                IncomingRecord(
                    topic=row["topic"],
                    partition=row["partition"],
                    offset=row["offset"],
                    key=row["key"],
                    headers=_decode_headers(row["headers"]),
                    value=bytes(row["value"]),
                )
            )
        return dict(out)

    async def commit(self, offsets: dict[PartitionKey, int]) -> None:
        if not offsets:
            return
        items = sorted(offsets.items())
        pool = await self._bus.pool()
        await pool.execute(
            f"""INSERT INTO {SCHEMA}.group_offsets (group_id, topic, partition, next_offset)
            SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o)
            ON CONFLICT (group_id, topic, partition)
            DO UPDATE SET next_offset = GREATEST({SCHEMA}.group_offsets.next_offset, excluded.next_offset)""",
            self._group,
            [t for (t, _), _ in items],
            [p for (_, p), _ in items],
            [o for _, o in items],
        )

"""The embedded mode's durable bus: an append-only log in PostgreSQL with Kafka's semantics.

- A topic has a fixed number of partitions, recorded by the first process to start (every
  later one must be configured alike); a key always lands on the same partition, and a
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
from sextant.runtime.bus.base import (
    Backlog,
    IncomingRecord,
    OutgoingRecord,
    PartitionKey,
    partition_for,
)
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
CREATE TABLE IF NOT EXISTS {SCHEMA}.settings (name text PRIMARY KEY, value int NOT NULL);
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


def _group_payload(group: str) -> str:
    """The notification that ``group``'s membership changed ('/' is in no topic name)."""
    return f"group/{group}"


def _member_lock(group: str, member_id: str) -> str:
    """The advisory lock a member holds while it is in ``group`` (its peers wait on it)."""
    return f"sextant_bus_member:{group}:{member_id}"


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _decode_headers(raw: str | list[Any]) -> tuple[tuple[str, bytes], ...]:
    items = orjson.loads(raw) if isinstance(raw, str) else raw
    return tuple((name, base64.b64decode(value)) for name, value in items)


def poll_shares(lags: dict[PartitionKey, int], budget: int) -> dict[PartitionKey, int]:
    """How many records a poll of ``budget`` takes from each partition, given how many
    each has waiting (its lag; none for a partition without). Max-min fair: the smallest
    backlogs are taken whole, what they leave is split evenly among the larger ones, so
    one busy partition gets the whole budget and no partition with records is starved
    (each gets at least 1, even when they outnumber the budget)."""
    waiting = sorted((lag, tp) for tp, lag in lags.items() if lag > 0)
    shares: dict[PartitionKey, int] = {}
    left = budget
    for i, (lag, tp) in enumerate(waiting):
        shares[tp] = min(lag, max(1, left // (len(waiting) - i)))
        left -= shares[tp]
    return shares


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
                await conn.execute(
                    f"INSERT INTO {SCHEMA}.settings VALUES ('partitions', $1) ON CONFLICT DO NOTHING",
                    self.partitions,
                )
                stored = await conn.fetchval(
                    f"SELECT value FROM {SCHEMA}.settings WHERE name = 'partitions'"
                )
        finally:
            await conn.close()
        if stored != self.partitions:
            # A key hashed over another count lands on another partition: per-key order
            # would break between this process and the others.
            raise ValueError(
                f"the local bus in this database has {stored} partitions per topic, but "
                f"SEXTANT_LOCAL_BUS_PARTITIONS is {self.partitions}: every process must use "
                f"the same count (set it to {stored}; to change it, stop every service, let "
                f"no record stay unconsumed, and delete the 'partitions' row of "
                f"{SCHEMA}.settings)"
            )
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

    async def backlog(self, group: str, topics: Sequence[str]) -> Backlog:
        """The group's lag from the partitions' next offsets and its committed ones (a
        partition it never committed counts from offset 0, as its consumer starts there);
        a DLQ's depth is the records it still holds (retention prunes them too)."""
        pool = await self.pool()
        dlqs = [f"{topic}.dlq" for topic in topics]
        lag = await pool.fetch(
            f"""SELECT p.topic, sum(p.next_offset - COALESCE(g.next_offset, 0))::bigint AS n
            FROM {SCHEMA}.partitions p LEFT JOIN {SCHEMA}.group_offsets g
              ON g.group_id = $1 AND g.topic = p.topic AND g.partition = p.partition
            WHERE p.topic = ANY($2::text[]) GROUP BY p.topic""",
            group,
            list(topics),
        )
        dead = await pool.fetch(
            f"SELECT topic, count(*) AS n FROM {SCHEMA}.records"
            " WHERE topic = ANY($1::text[]) GROUP BY topic",
            dlqs,
        )
        depth = {row["topic"]: int(row["n"]) for row in dead}
        lags = {row["topic"]: int(row["n"]) for row in lag}
        return Backlog(
            lag={topic: lags.get(topic, 0) for topic in topics},
            dead_letters={topic: depth.get(f"{topic}.dlq", 0) for topic in topics},
        )

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
    """One member of a consumer group on the local bus.

    Partitions move as soon as membership changes, not on a timer: a member that joins or
    leaves NOTIFYs its group, a member that gives partitions up NOTIFYs again so the one
    waiting for them takes them, and each member watches another's lock (a ring), so a
    member that dies (its connection gone, its locks with it) is noticed at once and its
    partitions taken. Every member still re-reads the membership every
    ``REBALANCE_EVERY`` seconds, in case a notification was lost while reconnecting.
    Partitions are only given up or taken in :meth:`poll`, so never with work in flight."""

    REBALANCE_EVERY = 5.0

    def __init__(self, bus: LocalBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._member_id = str(uuid7())
        self._lock_conn: asyncpg.Connection | None = None
        self._owned: set[PartitionKey] = set()
        self._last_rebalance = 0.0
        self._rebalance_due = True
        self._membership_changed = asyncio.Event()
        self._group_payload = _group_payload(group)
        self._listener = Listener(bus.dsn, CHANNEL, accept=self._heard)
        self._watcher: asyncio.Task[None] | None = None

    @property
    def assignment(self) -> set[PartitionKey]:
        return set(self._owned)

    def _heard(self, payload: str) -> bool:
        """A notification: new records on one of our topics, or our group changed."""
        if payload == self._group_payload:
            self._rebalance_due = True
            self._membership_changed.set()
            return True
        return payload in self._topics

    async def start(self) -> None:
        await self._listener.start()
        self._watcher = asyncio.create_task(self._watch(), name=f"local-bus-watch:{self._group}")
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await self._join()

    async def stop(self) -> None:
        await cancel_and_wait(self._watcher)
        self._watcher = None
        await self._listener.stop()
        await self._leave()

    async def _join(self) -> None:
        self._lock_conn = await asyncpg.connect(self._bus.dsn, timeout=5)
        pid = self._lock_conn.get_server_pid()
        await self._lock_conn.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))",
            _member_lock(self._group, self._member_id),
        )
        await self._lock_conn.execute(
            f"WITH joined AS (INSERT INTO {SCHEMA}.members (group_id, member_id, backend_pid)"
            " VALUES ($1, $2, $3) ON CONFLICT (group_id, member_id)"
            " DO UPDATE SET backend_pid = excluded.backend_pid)"
            " SELECT pg_notify($4, $5)",
            self._group,
            self._member_id,
            pid,
            CHANNEL,
            self._group_payload,
        )
        self._owned = set()
        self._rebalance_due = True

    async def _leave(self) -> None:
        conn, self._lock_conn, self._owned = self._lock_conn, None, set()
        if conn is None or conn.is_closed():
            return
        with contextlib.suppress(Exception):
            # Partitions first, so the members woken by the notification can take them.
            await conn.execute("SELECT pg_advisory_unlock_all()")
            await conn.execute(
                f"WITH gone AS (DELETE FROM {SCHEMA}.members WHERE group_id = $1"
                " AND member_id = $2) SELECT pg_notify($3, $4)",
                self._group,
                self._member_id,
                CHANNEL,
                self._group_payload,
            )
            await conn.close(timeout=2)

    async def _members(self, conn: asyncpg.Connection) -> list[str]:
        rows = await conn.fetch(
            f"SELECT member_id FROM {SCHEMA}.members WHERE group_id = $1", self._group
        )
        return [row["member_id"] for row in rows]

    async def _live_members(self, conn: asyncpg.Connection) -> list[str]:
        rows = await conn.fetch(
            f"SELECT member_id FROM {SCHEMA}.members m WHERE group_id = $1 AND EXISTS "
            "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid) ORDER BY member_id",
            self._group,
        )
        return [row["member_id"] for row in rows]

    async def _rebalance(self) -> None:
        conn = self._lock_conn
        assert conn is not None
        self._rebalance_due = False
        live = await self._live_members(conn)
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
        released = self._owned - wanted
        for tp in released:
            await conn.fetchval(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", self._lock_name(tp)
            )
            self._owned.discard(tp)
        if released:  # whoever wants them is told now, not at its next tick
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, self._group_payload)
        for tp in wanted - self._owned:
            if await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self._lock_name(tp)
            ):
                self._owned.add(tp)
        # One still held by the member giving it up: try again at the next poll too, in
        # case its notification came before our listener was up.
        self._rebalance_due = self._rebalance_due or self._owned != wanted
        log.debug(
            "bus.local.rebalanced", group=self._group, members=members, owned=len(self._owned)
        )
        self._last_rebalance = asyncio.get_running_loop().time()

    def _lock_name(self, tp: PartitionKey) -> str:
        return f"sextant_bus:{self._group}:{tp[0]}:{tp[1]}"

    async def _watch(self) -> None:
        """Wait on the member lock of the next member in the ring; when it comes free
        that member is gone (left, or its connection died with it): drop its row and tell
        the group. Picks the member again whenever the membership changes."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._bus.dsn, timeout=5)
                while True:
                    self._membership_changed.clear()
                    # Every row, the dead ones' too: a dead member's lock is free at once.
                    peer = self._next_in_ring(await self._members(conn))
                    if peer is None:
                        await self._membership_changed.wait()
                        continue
                    if await self._outlived(conn, peer):
                        await conn.execute(
                            f"WITH gone AS (DELETE FROM {SCHEMA}.members WHERE group_id = $1"
                            " AND member_id = $2) SELECT pg_notify($3, $4)",
                            self._group,
                            peer,
                            CHANNEL,
                            self._group_payload,
                        )
                    else:
                        break  # membership changed mid-wait: a fresh connection, a new peer
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("bus.local.watch_failed", group=self._group, error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                if conn is not None:
                    conn.terminate()  # also ends a lock wait still queued on the server

    def _next_in_ring(self, live: list[str]) -> str | None:
        others = [m for m in live if m != self._member_id]
        if not others:
            return None
        return next((m for m in others if m > self._member_id), others[0])

    async def _outlived(self, conn: asyncpg.Connection, peer: str) -> bool:
        """Wait until ``peer`` no longer holds its member lock (True) or the membership
        changes first (False)."""
        lock = _member_lock(self._group, peer)
        waiting = asyncio.ensure_future(
            conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock)
        )
        waiting.add_done_callback(_retrieve)  # cut short by a stop: nobody awaits it
        changed = asyncio.ensure_future(self._membership_changed.wait())
        try:
            await asyncio.wait({waiting, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
        if not waiting.done():
            waiting.cancel()
            with contextlib.suppress(BaseException):
                await waiting
            return False
        waiting.result()
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock)
        return True

    async def poll(
        self, max_records: int, timeout: float
    ) -> dict[PartitionKey, list[IncomingRecord]]:
        try:
            if self._lock_conn is None or self._lock_conn.is_closed():
                await self._join()
            if self._rebalance_is_due():
                await self._rebalance()
            records = await self._fetch(max_records)
            if not records:
                await self._listener.wait(min(timeout, self.REBALANCE_EVERY))
                if self._rebalance_is_due():
                    await self._rebalance()
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

    def _rebalance_is_due(self) -> bool:
        elapsed = asyncio.get_running_loop().time() - self._last_rebalance
        return self._rebalance_due or elapsed >= self.REBALANCE_EVERY

    async def _fetch(self, max_records: int) -> dict[PartitionKey, list[IncomingRecord]]:
        """Up to about ``max_records`` records, the budget shared among the owned
        partitions that have records (:func:`poll_shares`), not among all of them: a
        partition's backlog comes in batches of the poll's size, not of a 1/80th of it."""
        if not self._owned:
            return {}
        owned = sorted(self._owned)
        pool = await self._bus.pool()
        lags = await pool.fetch(
            f"""SELECT o.topic, o.partition, p.next_offset - COALESCE(g.next_offset, 0) AS lag
            FROM unnest($1::text[], $2::int[]) AS o(topic, partition)
            JOIN {SCHEMA}.partitions p ON p.topic = o.topic AND p.partition = o.partition
            LEFT JOIN {SCHEMA}.group_offsets g
              ON g.group_id = $3 AND g.topic = o.topic AND g.partition = o.partition
            WHERE p.next_offset > COALESCE(g.next_offset, 0)""",
            [t for t, _ in owned],
            [p for _, p in owned],
            self._group,
        )
        shares = sorted(
            poll_shares({(r["topic"], r["partition"]): r["lag"] for r in lags}, max_records).items()
        )
        if not shares:
            return {}
        rows = await pool.fetch(
            f"""SELECT r.topic, r.partition, r."offset", r.key, r.headers, r.value
            FROM unnest($1::text[], $2::int[], $3::int[]) AS o(topic, partition, share)
            LEFT JOIN {SCHEMA}.group_offsets g
              ON g.group_id = $4 AND g.topic = o.topic AND g.partition = o.partition
            CROSS JOIN LATERAL (
              SELECT * FROM {SCHEMA}.records r
              WHERE r.topic = o.topic AND r.partition = o.partition
                AND r."offset" >= COALESCE(g.next_offset, 0)
              ORDER BY r."offset" LIMIT o.share) r
            ORDER BY r.topic, r.partition, r."offset\"""",
            [t for (t, _), _ in shares],
            [p for (_, p), _ in shares],
            [n for _, n in shares],
            self._group,
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

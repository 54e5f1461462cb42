"""A consumer or producer of the bus conformance suite, run as its own OS process so the
suite can SIGKILL it at any point.

    python -m sextant.runtime.testing.busworker consume  (settings from env, see below)
    python -m sextant.runtime.testing.busworker produce-and-hang

Environment: CONFORMANCE_DATABASE_URL (owner URL), CONFORMANCE_TRANSPORT (local|kafka),
CONFORMANCE_BOOTSTRAP, CONFORMANCE_TOPIC, CONFORMANCE_GROUP, CONFORMANCE_COUNT,
CONFORMANCE_MEMBER, CONFORMANCE_BUS_DSN (local bus database, defaults to the same),
CONFORMANCE_BATCHED (``1``: the handler is :class:`~sextant.runtime.consumer.Batched`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from sextant.contracts import Envelope
from sextant.runtime.bus.base import EventBus
from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.bus.local import LocalBus
from sextant.runtime.consumer import Batched, EventProcessor, Handler, RetryPolicy, each_in_context
from sextant.runtime.db import Database, plain_dsn
from sextant.runtime.migrations import migrate
from sextant.runtime.outbox import Outbox, spine_tables

SCHEMA = "conformance"
MIGRATIONS = Path(__file__).parent / "conformance_migrations"
TENANT = uuid.UUID("00000000-0000-7000-8000-00000000c0de")
EVENT_TYPE = "sextant.test.conformance.v1"
POISON_MARK = "poison"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("member", sa.Text, nullable=False),
)


def event_id(seq: int) -> uuid.UUID:
    """Deterministic ids, so a producer that retries after an unclear commit adds nothing."""
    return uuid.uuid5(TENANT, f"conformance-{seq}")


def envelope(seq: int, key: str, *, poison: bool = False) -> Envelope:
    return Envelope(
        id=event_id(seq),
        source="/sextant/conformance",
        type=EVENT_TYPE,
        subject=key,
        tenantid=TENANT,
        data={"seq": seq, "key": key, POISON_MARK: poison},
    )


def make_handler(member: str, *, batched: bool = False, max_batch: int = 50) -> Handler:
    """Records each event's effect; a poison event fails, and with it a batch holding it."""

    async def record_effects(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        for env in each_in_context(envelopes):
            if env.data.get(POISON_MARK):
                raise ValueError(f"event {env.data['seq']} is poison by design")
        await session.execute(
            effects.insert(),
            [
                {"event_id": e.id, "key": e.data["key"], "seq": e.data["seq"], "member": member}
                for e in envelopes
            ],
        )

    if batched:
        return Batched(record_effects, max_batch=max_batch)

    async def record_effect(session: AsyncSession, env: Envelope) -> None:
        await record_effects(session, [env])

    return record_effect


def make_bus(
    transport: str, *, database_url: str, bootstrap: str | None, bus_dsn: str | None = None
) -> EventBus:
    if transport == "kafka":
        assert bootstrap, "kafka transport needs a bootstrap server"
        return KafkaBus(bootstrap, session_timeout_ms=3000)
    return LocalBus(bus_dsn or plain_dsn(database_url), partitions=4)


def database(url: str) -> Database:
    password = "conformance"  # noqa: S105 - a throwaway test role's password
    return Database(url, SCHEMA, app_password=password, pool_size=4)


async def prepare(url: str) -> None:
    """Create the conformance schema, role and tables (idempotent)."""
    await migrate(database(url), MIGRATIONS, metadata)


async def started_with(url: str, tables: MetaData) -> Database:
    """The conformance schema prepared with a test's own ``tables`` too (created by the
    owner; the app role gets them by default privileges), and its database started."""
    await prepare(url)
    db = database(url)
    owner = create_async_engine(db.owner_url)
    async with owner.begin() as connection:
        await connection.run_sync(tables.create_all)
    await owner.dispose()
    await db.start()
    return db


async def consume_forever(env: dict[str, str]) -> None:
    db = database(env["CONFORMANCE_DATABASE_URL"])
    await db.start()
    bus = make_bus(
        env["CONFORMANCE_TRANSPORT"],
        database_url=env["CONFORMANCE_DATABASE_URL"],
        bootstrap=env.get("CONFORMANCE_BOOTSTRAP"),
        bus_dsn=env.get("CONFORMANCE_BUS_DSN"),
    )
    await bus.start()
    processor = EventProcessor(
        bus=bus,
        db=db,
        inbox=spine.inbox,
        group=env["CONFORMANCE_GROUP"],
        handlers={
            env["CONFORMANCE_TOPIC"]: make_handler(
                env.get("CONFORMANCE_MEMBER", str(os.getpid())),
                batched=env.get("CONFORMANCE_BATCHED") == "1",
            )
        },
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        max_records=200,
    )
    await processor.start()
    print("CONSUMING", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await processor.stop()
    await bus.stop()
    await db.stop()


async def produce_and_hang(env: dict[str, str]) -> None:
    """Commit events to the outbox, say so, then hang before any relay publishes them."""
    db = database(env["CONFORMANCE_DATABASE_URL"])
    await db.start()
    outbox = Outbox(spine.outbox, source="/sextant/conformance")
    async with db.transaction(TENANT) as session:
        for seq in range(int(env["CONFORMANCE_COUNT"])):
            key = f"key-{seq % 10}"
            await outbox.add_envelope(session, envelope(seq, key), env["CONFORMANCE_TOPIC"], key)
    print("COMMITTED", flush=True)
    await asyncio.sleep(3600)


def main() -> None:
    mode = sys.argv[1]
    env = dict(os.environ)
    if mode == "consume":
        asyncio.run(consume_forever(env))
    elif mode == "produce-and-hang":
        asyncio.run(produce_and_hang(env))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()

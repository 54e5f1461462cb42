"""Bus throughput: events/s from publish to committed effect, per transport, next to a plain
aiokafka produce → consume → commit loop on the same broker in the same run.

    .venv/bin/python libs/runtime/bench/bench_bus.py [--events 20000] [--runs 3]

"Committed effect" means what services do: parse the envelope, claim the inbox, write a
row, commit the transaction, then commit the offset. The plain loop does none of that, so
the ratio is the price of effectively-once processing.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.engine import make_url

from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.consumer import EventProcessor, RetryPolicy
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import record_for
from sextant.runtime.testing import busworker
from sextant.runtime.testing.servers import MotoS3, TansuBroker

PARTITIONS = 4


async def plain_aiokafka(bootstrap: str, events: int) -> float:
    """Events/s for produce-all then consume-all with manual commits, nothing else."""
    topic = f"plain.{secrets.token_hex(4)}"
    await KafkaBus(bootstrap).ensure_topics([topic], PARTITIONS)
    payload = b'{"seq":0,"key":"key-0","poison":false}'
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"plain-{secrets.token_hex(3)}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(topic, payload, key=f"key-{i % 50}".encode()) for i in range(events)
    ]
    await asyncio.gather(*futures)
    seen = 0
    while seen < events:
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        seen += sum(len(m) for m in batch.values())
        await consumer.commit()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await producer.stop()
    return events / elapsed


async def through_sextant(
    kind: str, database_url: str, bootstrap: str | None, events: int
) -> float:
    """Events/s from publish to committed effect through the runtime's consumer."""
    topic, group = f"bench.{secrets.token_hex(4)}", f"bench-{secrets.token_hex(3)}"
    bus = busworker.make_bus(kind, database_url=database_url, bootstrap=bootstrap)
    if kind == "kafka":
        assert bootstrap
        await KafkaBus(bootstrap).ensure_topics([topic, topic + ".dlq"], PARTITIONS)
    await bus.start()
    db = busworker.database(database_url)
    await db.start()
    processor = EventProcessor(
        bus=bus,
        db=db,
        inbox=busworker.spine.inbox,
        group=group,
        handlers={topic: busworker.make_handler("bench")},
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        max_records=500,
    )
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute("TRUNCATE conformance.effects")
    records = [
        record_for(busworker.envelope(i, f"key-{i % 50}"), topic, f"key-{i % 50}")
        for i in range(events)
    ]
    await processor.start()
    started = time.perf_counter()
    for i in range(0, events, 500):
        await bus.publish(records[i : i + 500])
    while await conn.fetchval("SELECT count(*) FROM conformance.effects") < events:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await processor.stop()
    await conn.close()
    await bus.stop()
    await db.stop()
    return events / elapsed


async def main(events: int, runs: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sextant-bench-"))
    postgres = EmbeddedPostgres(workdir / "postgres")
    s3 = MotoS3()
    s3.start()
    bucket = f"tansu-{secrets.token_hex(4)}"
    MotoS3.create_bucket_at(s3.endpoint_url, bucket)
    broker = TansuBroker(s3.endpoint_url, bucket, workdir)
    try:
        database_url = postgres.start()
        bootstrap = broker.start()
        await busworker.prepare(database_url)
        await conn_reset(database_url)
        plain = [await plain_aiokafka(bootstrap, events) for _ in range(runs)]
        local = [await through_sextant("local", database_url, None, events) for _ in range(runs)]
        kafka = [
            await through_sextant("kafka", database_url, bootstrap, events) for _ in range(runs)
        ]
    finally:
        broker.stop()
        s3.stop()
        postgres.destroy()
    baseline = statistics.median(plain)
    print(
        f"bus throughput, {events} events, median of {runs} runs (events/s, publish → committed effect)"
    )
    print(f"  {'plain aiokafka loop (tansu)':38s} {baseline:10.0f}   1.00x")
    for name, values in (
        ("sextant, local bus (PostgreSQL)", local),
        ("sextant, kafka bus (tansu)", kafka),
    ):
        median = statistics.median(values)
        print(f"  {name:38s} {median:10.0f}   {median / baseline:.2f}x of plain")


async def conn_reset(database_url: str) -> None:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.execute("TRUNCATE conformance.inbox, conformance.effects")
    await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.runs))

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
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.consumer import EventProcessor, RetryPolicy
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.outbox import record_for
from sextant.runtime.testing import busworker
from sextant.runtime.testing.servers import (
    ACCESS_KEY,
    SECRET_KEY,
    MotoS3,
    TansuBroker,
    wait_for_port,
)

PARTITIONS = 4


class S3Process:
    """moto's S3 in a process of its own, the broker's storage. The test suite runs it in a
    thread; here that thread would take the GIL from the loop being measured on every
    write the broker makes."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            },
        )
        wait_for_port(self.port)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


async def plain_aiokafka(bootstrap: str, events: int, *, same_records: bool = False) -> float:
    """Events/s for produce-all then consume-all with manual commits, nothing else: a
    40-byte value without headers, or (``same_records``) the very records sextant moves,
    CloudEvents headers and envelope data, so the ratio is the runtime's work alone."""
    topic = f"plain.{secrets.token_hex(4)}"
    await KafkaBus(bootstrap).ensure_topics([topic], PARTITIONS)
    payload = b'{"seq":0,"key":"key-0","poison":false}'
    headers: list[list[tuple[str, bytes]]] = [[] for _ in range(events)]
    values = [payload] * events
    if same_records:
        records = bench_records(topic, events)
        headers = [list(r.headers) for r in records]
        values = [r.value for r in records]
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
    # Warm-up: one record through, so the group's join is not timed (nor is it for sextant).
    await (await producer.send(topic, payload, key=b"warm-up"))
    while not sum(len(m) for m in (await consumer.getmany(timeout_ms=500)).values()):
        pass
    await consumer.commit()
    started = time.perf_counter()
    futures = [
        await producer.send(topic, values[i], key=f"key-{i % 50}".encode(), headers=headers[i])
        for i in range(events)
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
    kind: str, database_url: str, bootstrap: str | None, events: int, batched: bool = True
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
        handlers={topic: busworker.make_handler("bench", batched=batched, max_batch=100)},
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        max_records=500,
    )
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    await conn.execute("TRUNCATE conformance.effects")
    records = bench_records(topic, events + 1)
    await processor.start()
    # Warm-up: one event through, so the group's join is not timed (nor is it for plain).
    await bus.publish(records[-1:])
    while await conn.fetchval("SELECT count(*) FROM conformance.effects") < 1:
        await asyncio.sleep(0.02)
    started = time.perf_counter()
    # Published as a relay would, 500 records a call, but all calls in flight at once (as
    # the plain loop's sends are): what is timed is the bus and the consumer.
    await asyncio.gather(
        *(bus.publish(records[i : min(i + 500, events)]) for i in range(0, events, 500))
    )
    while await conn.fetchval("SELECT count(*) FROM conformance.effects") < events + 1:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await processor.stop()
    await conn.close()
    await bus.stop()
    await db.stop()
    return events / elapsed


def bench_records(topic: str, count: int) -> list[OutgoingRecord]:
    """What the conformance suite sends: 50 keys, envelopes of one tenant."""
    return [
        record_for(busworker.envelope(i, f"key-{i % 50}"), topic, f"key-{i % 50}")
        for i in range(count)
    ]


async def main(events: int, runs: int, batched: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sextant-bench-"))
    postgres = EmbeddedPostgres(workdir / "postgres")
    s3 = S3Process()
    bucket = f"tansu-{secrets.token_hex(4)}"
    MotoS3.create_bucket_at(s3.endpoint_url, bucket)
    broker = TansuBroker(s3.endpoint_url, bucket, workdir)
    try:
        database_url = postgres.start()
        bootstrap = broker.start()
        await busworker.prepare(database_url)
        await conn_reset(database_url)
        plain, same, local, kafka = [], [], [], []
        for _ in range(runs):  # interleaved, so a busy moment of the machine hits each alike
            plain.append(await plain_aiokafka(bootstrap, events))
            same.append(await plain_aiokafka(bootstrap, events, same_records=True))
            local.append(await through_sextant("local", database_url, None, events, batched))
            kafka.append(await through_sextant("kafka", database_url, bootstrap, events, batched))
    finally:
        broker.stop()
        s3.stop()
        postgres.destroy()
    baseline, same_baseline = statistics.median(plain), statistics.median(same)
    handling = "Batched handler" if batched else "one-by-one handler"
    print(
        f"bus throughput, {events} events, median of {runs} runs, {handling}"
        " (events/s, publish → committed effect)"
    )
    print(f"  {'plain aiokafka loop (tansu)':38s} {baseline:10.0f}   1.00x")
    print(
        f"  {'plain aiokafka loop, sextant records':38s} {same_baseline:10.0f}"
        f"   {same_baseline / baseline:.2f}x"
    )
    for name, values in (
        ("sextant, local bus (PostgreSQL)", local),
        ("sextant, kafka bus (tansu)", kafka),
    ):
        median = statistics.median(values)
        print(
            f"  {name:38s} {median:10.0f}   {median / baseline:.2f}x of plain,"
            f" {median / same_baseline:.2f}x of plain with sextant records"
        )


async def conn_reset(database_url: str) -> None:
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    await conn.execute("TRUNCATE conformance.inbox, conformance.effects")
    await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="a plain handler (one transaction per event) instead of a Batched one",
    )
    args = parser.parse_args()
    asyncio.run(main(args.events, args.runs, not args.one_by_one))

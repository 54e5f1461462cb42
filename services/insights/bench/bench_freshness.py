"""Freshness of DeveloperMetrics in the embedded mode: from a signed GitHub push accepted
(the gateway's 202) to the developer's day figures counting its commit, p50 and p95, next
to the bus's own publish → consume latency measured in the same process.

    .venv/bin/python services/insights/bench/bench_freshness.py [--events 60] [--rate 2]

The platform runs as `sextant run` composes it — every service in one process on one local
bus over one PostgreSQL — with the gateway served by uvicorn on loopback; tenant,
workspace and source are made through the public API. Each push carries one commit by the
same developer, authored now, sent at a steady ``--rate`` per second whether or not the
earlier ones are visible yet, so each delivery crosses HTTP, ingest's group commit, the
outbox relay, identity's attribution, a second relay, insights' projecting batch and its
DeveloperMetrics worker. Visible means the day's row (``insights.developer_days``, what
trends and team metrics read) counts it; it is read straight from the database every 5 ms,
as there is no per-day route. The bus's figure is a bare consumer on a scratch topic, one
record at a time at the same rate.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from sextant.cli.testing import Platform, running_platform, served_platform
from sextant.contracts import Envelope, uuid7
from sextant.runtime.bus.base import EventBus
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import generate_keypair

SCRATCH = "sextant.bench.freshness"
AUTHOR = {"name": "Ada Lovelace", "email": "ada@lovelace.example.org", "username": "ada"}


def push(n: int) -> dict[str, Any]:
    """The n-th push: one commit by Ada, authored now, on top of the previous one."""
    now = datetime.now(UTC).isoformat()
    sha, before = f"{n + 1:040x}", f"{n:040x}"
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "commits": [{"id": sha, "message": f"change {n}", "timestamp": now, "author": AUTHOR}],
        "repository": {"id": 1, "full_name": "octo-org/octo-repo", "default_branch": "main"},
        "pusher": {"name": "ada", "email": AUTHOR["email"]},
        "head_commit": {"timestamp": now},
    }


def percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    return (
        f"p50 {statistics.median(ordered):7.0f} ms   p95 {p95:7.0f} ms   max {ordered[-1]:7.0f} ms"
    )


async def steady(count: int, rate: float, send: Any) -> None:
    """``send(n)`` for n in range(count), the n-th at n / rate seconds from now."""
    start = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        await send(n)


async def bus_latency(bus: EventBus, count: int, rate: float) -> list[float]:
    """Publish → poll of a bare consumer group, one record at a time at ``rate``."""
    consumer = bus.consumer(f"bench-{uuid7().hex[:6]}", [SCRATCH])
    await consumer.start()
    sent: dict[int, float] = {}
    latencies: list[float] = []

    async def send(n: int) -> None:
        envelope = Envelope(
            type="sextant.bench.ping.v1", source="/bench", tenantid=uuid7(), data={"n": n}
        )
        sent[n] = time.perf_counter()
        await bus.publish([record_for(envelope, SCRATCH, f"bench/{n}")])

    async def receive() -> None:
        while len(latencies) < count:
            batch = await consumer.poll(100, 0.5)
            now = time.perf_counter()
            for partition, records in batch.items():
                for record in records:
                    n = json.loads(record.value)["n"]
                    latencies.append((now - sent[n]) * 1000)
                if records:
                    await consumer.commit({partition: records[-1].offset + 1})

    receiving = asyncio.create_task(receive())
    await asyncio.sleep(1)  # joined and assigned before the first record
    await steady(count, rate, send)
    await asyncio.wait_for(receiving, 30)
    await consumer.stop()
    return latencies


async def measure(database_url: str, data_dir: Path, events: int, rate: float) -> int:
    private_pem, public_pem = generate_keypair()
    keys = InternalKeys(private_pem, public_pem)
    async with (
        running_platform(database_url, keys, data_dir) as platform,
        served_platform(platform) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as public,
    ):
        return await drive(platform, public, database_url, events, rate)


async def drive(
    platform: Platform, public: httpx.AsyncClient, database_url: str, events: int, rate: float
) -> int:
    """Pushes at a steady rate through the served gateway, timed to the day's figures."""
    tenant = await platform.tenant("bench")
    admin = platform.headers("tenant_admin", tenant)
    workspace = (await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)).json()[
        "id"
    ]
    source = (
        await public.post(
            f"/v1/workspaces/{workspace}/sources",
            json={"kind": "github", "name": "gh"},
            headers=admin,
        )
    ).json()
    owner = await asyncpg.connect(plain_dsn(database_url))
    accepted: dict[int, float] = {}
    latencies: list[float] = []
    projected: list[float] = []  # the commit in insights' projection, before the worker

    async def send(n: int) -> None:
        body = json.dumps(push(n)).encode()
        digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
        reply = await public.post(
            f"/v1/hooks/{source['id']}",
            content=body,
            headers={
                "content-type": "application/json",
                "x-github-event": "push",
                "x-github-delivery": f"push-{n}",
                "x-hub-signature-256": f"sha256={digest}",
            },
        )
        assert reply.status_code == 202, reply.text
        accepted[n] = time.perf_counter()

    async def watch() -> None:
        """The day's commits count, every 5 ms: when it reaches c, the first c pushes
        (in the order sent) are visible."""
        deadline = time.perf_counter() + events / rate + 60
        while len(latencies) < events and time.perf_counter() < deadline:
            row = await owner.fetchrow(
                "SELECT (SELECT coalesce(sum(commits), 0) FROM insights.developer_days"
                "         WHERE tenant_id = $1) AS days,"
                "       (SELECT count(*) FROM insights.commits WHERE tenant_id = $1) AS rows",
                tenant,
            )
            now = time.perf_counter()
            for figures, counted in ((latencies, row["days"]), (projected, row["rows"])):
                while len(figures) < min(counted, len(accepted)):
                    figures.append((now - accepted[len(figures)]) * 1000)
            await asyncio.sleep(0.005)

    watching = asyncio.create_task(watch())
    await steady(events, rate, send)
    await watching
    bus_figures = await bus_latency(platform.bus, events, rate)

    await owner.close()
    if len(latencies) < events:
        print(f"only {len(latencies)} of {events} pushes became visible within 60 s")
        return 1
    print(
        f"freshness, embedded mode, {events} GitHub pushes at {rate:g}/s: "
        "webhook 202 -> the developer's day counts the commit"
    )
    print(f"  {'webhook -> DeveloperMetrics day':34s} {percentiles(latencies)}")
    print(f"  {'webhook -> projected (the commit)':34s} {percentiles(projected)}")
    print(f"  {'bus publish -> consume (bare)':34s} {percentiles(bus_figures)}")
    return 0


async def main(events: int, rate: float) -> int:
    with tempfile.TemporaryDirectory(prefix="sextant-freshness-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = await asyncio.to_thread(postgres.start)
        try:
            return await measure(url, Path(tmp), events, rate)
        finally:
            await asyncio.to_thread(postgres.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=60, help="pushes sent (at least 50)")
    parser.add_argument("--rate", type=float, default=2.0, help="pushes a second")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.events, arguments.rate)))

"""Freshness under a steady load, every service apart (the chart's processes on Kafka)
next to the embedded mode (`sextant run`, one process, the local bus), in the same run:
from a webhook accepted (the gateway's 202) to the forecast's input showing it (the
issue counted in forecast history, read through the gateway), p50 and p95.

    .venv/bin/python cli/bench/bench_distributed.py [--rate 200] [--seconds 10]

Each issue is three signed Jira webhooks (created, started, resolved) sent in order;
issues start at a steady pace so that deliveries run at ``--rate`` per second (each issue
at its own scheduled instant, not after the previous answer; at most 64 in flight), and
an issue is accepted at its last 202.
A poller reads the throughput count every 50 ms; when it reaches c, the first c accepted
issues count as visible then (the count cannot tell which issue landed, so the
figure is the time until as many issues as were accepted by then are visible: an
in-order estimate). The distributed mode runs `deploy/helm/sextant` rendered and started
by `sextant.cli.cluster` (the migrations Job's commands, then every Deployment's process
with the chart's env) on an embedded PostgreSQL, moto's S3 and tansu's Kafka protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from sextant.cli import cluster, deployment
from sextant.gateway.authn import LocalIssuer, ensure_local_issuer, new_local_issuer_pem
from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.testing.servers import ACCESS_KEY, SECRET_KEY, MotoS3, TansuBroker
from sextant.runtime.tokens import generate_keypair

ADA = {"accountId": "5b10", "displayName": "Ada Lovelace"}
DONE_AT = datetime.now(UTC) - timedelta(days=8)  # inside the last completed week
PER_ISSUE = 3  # webhooks per issue: the rate counts deliveries


def hooks(n: int) -> list[dict[str, Any]]:
    """Issue ENG-n created, started and resolved (forecast counts it on the last)."""

    def issue(status: str, category: str) -> dict[str, Any]:
        return {
            "id": str(50_000 + n),
            "key": f"ENG-{n}",
            "self": "https://jira.example.org/rest/api/2/issue/1",
            "fields": {
                "summary": "s",
                "issuetype": {"name": "Story"},
                "project": {"key": "ENG"},
                "status": {"name": status, "statusCategory": {"key": category}},
                "assignee": ADA,
                "created": (DONE_AT - timedelta(days=3)).isoformat(),
            },
        }

    def moved(old: str, new: str, category: str, days_before: int) -> dict[str, Any]:
        return {
            "timestamp": int((DONE_AT - timedelta(days=days_before)).timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "user": ADA,
            "issue": issue(new, category),
            "changelog": {
                "id": f"{new[0]}{n}",
                "items": [{"field": "status", "fromString": old, "toString": new}],
            },
        }

    created = {"timestamp": 0, "webhookEvent": "jira:issue_created", "user": ADA}
    return [
        created | {"issue": issue("To Do", "new")},
        moved("To Do", "In Progress", "indeterminate", 2),
        moved("In Progress", "Done", "done", 0),
    ]


@dataclass
class Figures:
    sent: int
    seconds: float
    latencies_ms: list[float]

    def line(self, mode: str) -> str:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return f"{mode:<12} {self.sent * PER_ISSUE / self.seconds:7.1f} deliveries/s sent   none visible"
        p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
        return (
            f"{mode:<12} {self.sent * PER_ISSUE / self.seconds:7.1f} deliveries/s sent   "
            f"p50 {statistics.median(ordered):7.0f} ms   p95 {p95:7.0f} ms   "
            f"issues visible {len(ordered)}/{self.sent}"
        )


async def wait_ready(gateway: str, seconds: float = 300) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/v1/status")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{gateway} not ready after {seconds:.0f} s")


async def load(gateway: str, issuer: LocalIssuer, rate: float, seconds: float) -> Figures:
    def bearer(role: str, tenant: str | None) -> dict[str, str]:
        token = issuer.mint(subject="bench", role=role, tenant_id=tenant, ttl_seconds=3600)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as public:
        root = bearer("platform_admin", None)
        tenant = (await public.post("/v1/tenants", json={"name": "bench"}, headers=root)).json()
        admin, manager = bearer("tenant_admin", tenant["id"]), bearer("manager", tenant["id"])
        workspace = (
            await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
        ).json()["id"]
        source = (
            await public.post(
                f"/v1/workspaces/{workspace}/sources",
                json={"kind": "jira", "name": "ENG"},
                headers=admin,
            )
        ).json()
        accepted: list[float] = []

        in_flight = asyncio.Semaphore(64)  # httpx's pool slows to a crawl with thousands waiting

        async def deliver(n: int) -> None:
            """Issue n's three webhooks in order; accepted when the last one is."""
            try:
                for step, hook in enumerate(hooks(n)):
                    body = json.dumps(hook).encode()
                    digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
                    headers = {
                        "content-type": "application/json",
                        "x-hub-signature": f"sha256={digest}",
                        "x-atlassian-webhook-identifier": f"bench-{n}-{step}",
                    }
                    for attempt in range(3):  # as a tool redelivers; the delivery id dedupes
                        try:
                            reply = await public.post(
                                f"/v1/hooks/{source['id']}", content=body, headers=headers
                            )
                            break
                        except httpx.TransportError:  # a keep-alive connection closed under us
                            if attempt == 2:
                                raise
                    if reply.status_code not in (200, 202):  # 200: a redelivery, accepted
                        raise RuntimeError(f"delivery {n}: {reply.status_code} {reply.text}")
                accepted.append(time.perf_counter())
            finally:
                in_flight.release()

        async def send(total: int, start: float) -> list[None]:
            tasks = []
            for n in range(total):
                await asyncio.sleep(max(0.0, start + n * PER_ISSUE / rate - time.perf_counter()))
                await in_flight.acquire()  # a slot frees as an answer comes: late, not queued
                tasks.append(asyncio.create_task(deliver(n)))
            return await asyncio.gather(*tasks)

        total = int(rate * seconds / PER_ISSUE)  # issues
        start = time.perf_counter() + 0.5
        senders = asyncio.create_task(send(total, start))
        latencies: list[float] = []
        deadline = start + seconds + 120
        while len(latencies) < total and time.perf_counter() < deadline:
            if senders.done() and senders.exception():
                break
            reply = await public.get(
                "/v1/forecasts/history",
                params={"scope": f"workspace:{workspace}", "window_weeks": 2},
                headers=manager,
            )
            now = time.perf_counter()
            count = sum(reply.json()["throughput"]) if reply.status_code == 200 else 0
            ordered = sorted(accepted)
            while len(latencies) < min(count, len(ordered)):
                latencies.append((now - ordered[len(latencies)]) * 1000)
            await asyncio.sleep(0.05)
        await senders
        return Figures(total, max(accepted) - start if accepted else seconds, latencies)


async def create_database(owner_url: str) -> str:
    name = f"bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(owner_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base, _, _ = owner_url.rpartition("/")
    return f"{base}/{name}"


async def embedded(owner_url: str, workdir: Path, rate: float, seconds: float) -> Figures:
    data_dir = workdir / "embedded"
    issuer = ensure_local_issuer(data_dir)
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": await create_database(owner_url),
        "SEXTANT_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [str(cluster.BIN / "sextant"), "run", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_ready(f"http://127.0.0.1:{port}")
        return await load(f"http://127.0.0.1:{port}", issuer, rate, seconds)
    finally:
        process.terminate()
        process.wait(30)


async def distributed(
    owner_url: str, s3: str, kafka: str, workdir: Path, rate: float, seconds: float
) -> Figures:
    bucket = f"bench-{secrets.token_hex(4)}"
    MotoS3.create_bucket_at(s3, bucket)
    issuer_pem = new_local_issuer_pem()
    private_pem, public_pem = generate_keypair()
    apart: Mapping[str, Any] = {"replicas": 1, "autoscaling": {"enabled": False}}
    manifests = deployment.render(
        {
            "kafka": {"bootstrapServers": kafka, "replicationFactor": 1, "enableIdempotence": False},
            "s3": {"endpointUrl": s3, "bucket": bucket},
            "env": {"SEXTANT_LOG_LEVEL": "WARNING"},
            "services": {
                name: dict(apart) for name in ("ingest", "identity", "forecast", "insights", "archive", "reports")
            }
            | {"gateway": dict(apart) | {"env": {"SEXTANT_GATEWAY_LOCAL_ISSUER_PRIVATE_KEY": issuer_pem}}},
        }
    )  # fmt: skip
    secrets_map = {
        "sextant-database": {"url": await create_database(owner_url), "app-role-password": "sextant-app"},
        "sextant-s3": {"access-key-id": ACCESS_KEY, "secret-access-key": SECRET_KEY},
        "sextant-internal-token": {"public.pem": public_pem, "private.pem": private_pem},
        "sextant-ingest": {"secret-keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()},
        "sextant-gateway": {"secret-keys": "g1:" + base64.b64encode(secrets.token_bytes(32)).decode()},
    }  # fmt: skip
    fleet = cluster.Fleet()
    try:
        await asyncio.to_thread(cluster.run_jobs, manifests, secrets_map, workdir)
        cluster.start_release(manifests, secrets_map, workdir, fleet)
        await wait_ready(fleet.url("gateway"))
        return await load(fleet.url("gateway"), LocalIssuer.from_pem(issuer_pem), rate, seconds)
    finally:
        fleet.stop()


async def main(rate: float, seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="sextant-distributed-") as tmp:
        workdir = Path(tmp)
        postgres = EmbeddedPostgres(workdir / "pg")
        s3 = MotoS3()
        owner_url = await asyncio.to_thread(postgres.start)
        endpoint = s3.start()
        broker_bucket = f"tansu-{secrets.token_hex(4)}"
        MotoS3.create_bucket_at(endpoint, broker_bucket)
        broker = TansuBroker(endpoint, broker_bucket, workdir)
        kafka = broker.start()
        try:
            local = await embedded(owner_url, workdir, rate, seconds)
            apart = await distributed(owner_url, endpoint, kafka, workdir, rate, seconds)
        finally:
            broker.stop()
            s3.stop()
            await asyncio.to_thread(postgres.stop)
    print(
        f"freshness at a steady {rate:.0f} deliveries/s for {seconds:.0f} s: webhook 202 at "
        "the gateway -> counted in forecast history read through the gateway"
    )
    print(local.line("embedded"))
    print(apart.line("distributed"))
    ratio = statistics.median(apart.latencies_ms) / statistics.median(local.latencies_ms)
    print(f"distributed p50 / embedded p50: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.rate, arguments.seconds)))

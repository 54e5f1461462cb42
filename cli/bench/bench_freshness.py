"""Freshness in the embedded mode: from a webhook accepted (the gateway's 202) to the
forecast's input showing it (the item counted in forecast history, read through the
gateway with a bearer token, as a user would), p50 and p95.

    .venv/bin/python cli/bench/bench_freshness.py [--items 60]

The platform runs as `sextant run` composes it — every service in one process on one
local bus over one PostgreSQL — with the gateway served by uvicorn on loopback, so each
delivery crosses HTTP, ingest's group commit, the outbox relay, identity's attribution,
a second relay and forecast's projection; every call is the public API's (tenant,
workspace and source made through the gateway, history polled through it). Items are sent one at a time, so each figure
is one item's path, not a queue.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sextant.cli.testing import Platform, running_platform, served_platform
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import generate_keypair

USER = {
    "accountId": "5b10",
    "displayName": "Ada Lovelace",
    "emailAddress": "ada@lovelace.example.org",
}
DONE_AT = datetime.now(UTC) - timedelta(days=8)  # inside the last completed week


def hooks(n: int) -> list[dict[str, Any]]:
    def issue(status: str, category: str) -> dict[str, Any]:
        return {
            "id": str(10_000 + n),
            "key": f"ENG-{n}",
            "self": "https://jira.example.org/rest/api/2/issue/1",
            "fields": {
                "summary": "s",
                "issuetype": {"name": "Story"},
                "project": {"key": "ENG"},
                "status": {"name": status, "statusCategory": {"key": category}},
                "assignee": USER,
                "created": (DONE_AT - timedelta(days=3)).isoformat(),
            },
        }

    done = {
        "timestamp": int(DONE_AT.timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "user": USER,
        "issue": issue("Done", "done"),
        "changelog": {
            "id": f"c{n}",
            "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
        },
    }
    started = {
        "timestamp": int((DONE_AT - timedelta(days=2)).timestamp() * 1000),
        "webhookEvent": "jira:issue_updated",
        "user": USER,
        "issue": issue("In Progress", "indeterminate"),
        "changelog": {
            "id": f"s{n}",
            "items": [{"field": "status", "fromString": "To Do", "toString": "In Progress"}],
        },
    }
    created = {
        "timestamp": 0,
        "webhookEvent": "jira:issue_created",
        "user": USER,
        "issue": issue("To Do", "new"),
    }
    return [created, started, done]


async def main(items: int) -> int:
    with tempfile.TemporaryDirectory(prefix="sextant-freshness-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = await asyncio.to_thread(postgres.start)
        try:
            return await measure(url, Path(tmp), items)
        finally:
            await asyncio.to_thread(postgres.stop)


async def measure(database_url: str, data_dir: Path, items: int) -> int:
    private_pem, public_pem = generate_keypair()
    keys = InternalKeys(private_pem, public_pem)
    async with (
        running_platform(database_url, keys, data_dir) as platform,
        served_platform(platform) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as public,
    ):
        return await drive(platform, public, items)


async def drive(platform: Platform, public: httpx.AsyncClient, items: int) -> int:
    """Jira issues one at a time through the served gateway, each timed to forecast."""
    tenant = await platform.tenant("bench")
    admin, manager = (platform.headers(role, tenant) for role in ("tenant_admin", "manager"))
    workspace = (await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)).json()[
        "id"
    ]
    source = (
        await public.post(
            f"/v1/workspaces/{workspace}/sources",
            json={"kind": "jira", "name": "ENG"},
            headers=admin,
        )
    ).json()

    async def counted() -> int:
        reply = await public.get(
            "/v1/forecasts/history",
            params={"scope": f"workspace:{workspace}", "window_weeks": 2},
            headers=manager,
        )
        return sum(reply.json()["throughput"]) if reply.status_code == 200 else 0

    latencies: list[float] = []
    for n in range(items):
        for i, hook in enumerate(hooks(n)):
            body = json.dumps(hook).encode()
            signature = (
                "sha256=" + hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
            )
            reply = await public.post(
                f"/v1/hooks/{source['id']}",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-hub-signature": signature,
                    "x-atlassian-webhook-identifier": f"{n}-{i}",
                },
            )
            assert reply.status_code == 202, reply.text
        accepted = time.perf_counter()
        while await counted() < n + 1:
            if time.perf_counter() - accepted > 30:
                raise RuntimeError(f"item {n} not visible after 30 s")
            await asyncio.sleep(0.002)
        latencies.append((time.perf_counter() - accepted) * 1000)

    latencies.sort()
    p95 = latencies[max(int(len(latencies) * 0.95) - 1, 0)]
    print(
        f"freshness, embedded mode, {items} Jira issues one at a time: webhook 202 at the gateway -> counted in forecast history read through the gateway"
    )
    print(
        f"p50 {statistics.median(latencies):.0f} ms   p95 {p95:.0f} ms   max {latencies[-1]:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=60)
    sys.exit(asyncio.run(main(parser.parse_args().items)))

"""DORA keys of a view over a year, on real PostgreSQL, next to a plain indexed query.

    .venv/bin/python services/insights/bench/bench_dora.py [--workspaces 10] [--calls 200]
        [--purged-days 0] [--concurrency 1]

Loaded, as the consumer would have written them: per workspace one repository with a year
of production deployments (four a day), two merged change requests shipped and counted by
each (first commit a day before), and an incident a week blamed on a deployment. Then
``GET /v1/metrics/dora?scope=view:…&definition=dora-2024`` over the year for a view of all
the workspaces, through the service's HTTP app (in-process), next to a plain indexed query
in the same run: the view's successful production deployments of the year (what the keys
were once computed from; now summed in the database). With ``--purged-days N`` the year's
oldest N days are purged first, as the archive asks (retention.py keeps DORA's facts of
them), so the keys read kept rows for those days. Prints p50/p95 of each and the box's
load; target p95 <= 100 ms. With ``--concurrency N`` the calls are made by N clients at
once, and it prints their p50/p95, calls per second and the most of the service's pool
connections checked out at once (a call's connections are what a busy pool runs out of).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import sqlalchemy as sa
from _timing import line, pct

from sextant.contracts import uuid7
from sextant.contracts.events.platform import PurgeRequested
from sextant.insights.db import change_requests, deployment_changes, deployments, incidents
from sextant.insights.main import SPEC
from sextant.insights.retention import PURGER
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_on_embedded_postgres
from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

TENANT, VIEW = uuid7(), uuid7()
NOW = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 365


def year_of(workspace: UUID, index: int) -> dict[sa.Table, list[dict[str, Any]]]:
    """One workspace's year of delivery facts."""
    common = {"tenant_id": TENANT, "workspace_id": workspace}
    repository, repository_id = f"org/service-{index}", f"r{index}"
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        t: [] for t in (deployments, change_requests, deployment_changes, incidents)
    }
    for day in range(DAYS):
        for k in range(4):
            at = NOW - timedelta(days=day, hours=3 * k)
            deployment_id, deployed_sha = uuid7(), f"d-{index}-{day}-{k}"
            rows[deployments].append(
                common
                | {
                    "id": deployment_id,
                    "source_kind": "github",
                    "external_id": f"dep-{day}-{k}",
                    "repository_id": repository_id,
                    "repository": repository,
                    "environment": "production",
                    "is_production": True,
                    "sha": deployed_sha,
                    "status": "success",
                    "status_at": at,
                    "finished_at": at,
                    "succeeded_at": at,
                    "deployed_by_is_bot": False,
                }
            )
            for c in range(2):
                change_id, merged = uuid7(), at - timedelta(hours=1 + c)
                rows[change_requests].append(
                    common
                    | {
                        "id": change_id,
                        "source_kind": "github",
                        "external_id": f"pr-{day}-{k}-{c}",
                        "repository_id": repository_id,
                        "repository": repository,
                        "number": (day * 4 + k) * 2 + c,
                        "title": "change",
                        "author_developer_id": uuid7(),
                        "author_is_bot": False,
                        "base_branch": "main",
                        "head_branch": f"feature/{day}-{k}-{c}",
                        "draft": False,
                        "labels": [],
                        "opened_at": merged - timedelta(hours=20),
                        "first_commit_at": merged - timedelta(days=1),
                        "merged_at": merged,
                        "merge_sha": f"m-{index}-{day}-{k}-{c}",
                        "commit_shas": [],
                        "snapshot_at": merged,
                        "deployment_id": deployment_id,
                        "deployed_at": at,
                    }
                )
                rows[deployment_changes].append(
                    common
                    | {
                        "deployment_id": deployment_id,
                        "change_request_id": change_id,
                        "repository_id": repository_id,
                        "counted": True,
                    }
                )
        if day % 7 == 0:
            opened = NOW - timedelta(days=day) + timedelta(hours=1)
            rows[incidents].append(
                common
                | {
                    "id": uuid7(),
                    "source_kind": "generic",
                    "external_id": f"inc-{day}",
                    "title": "errors",
                    "severity": "SEV3",
                    "service": f"service-{index}",
                    "deployment_sha": f"d-{index}-{day}-0",
                    "opened_at": opened,
                    "resolved_at": opened + timedelta(hours=2),
                    "snapshot_at": opened + timedelta(hours=2),
                }
            )
    return rows


async def plain_query(state: Any, workspaces: list[UUID]) -> None:
    """The view's successful production deployments of the year, by the index."""
    d = deployments
    async with state.db.transaction(TENANT) as session:
        await session.execute(
            sa.select(d.c.id, d.c.workspace_id, d.c.repository, d.c.succeeded_at).where(
                d.c.tenant_id == TENANT,
                d.c.workspace_id.in_(workspaces),
                d.c.is_production,
                d.c.status == "success",
                d.c.succeeded_at >= NOW - timedelta(days=DAYS),
                d.c.succeeded_at < NOW,
            )
        )


async def purge(state: Any, days: int) -> None:
    """Purge the year's oldest ``days`` days of both delivery classes, as the archive asks."""
    older_than = NOW - timedelta(days=DAYS - days)
    async with state.db.transaction(TENANT) as session:
        for data_class in ("deployments", "change_requests"):
            request = PurgeRequested(
                manifest_id=uuid7(), data_class=data_class, older_than=older_than
            )
            await PURGER.delete(session, TENANT, request)


async def concurrent_calls(
    client: Any,
    state: Any,
    bearer: Callable[[], str],
    params: dict[str, str],
    calls: int,
    concurrency: int,
) -> int:
    """``calls`` DORA calls made by ``concurrency`` clients at once, the pool's checked-out
    connections sampled every millisecond meanwhile."""
    pool = state.db.engine.pool
    keys: list[float] = []
    most = 0

    async def caller(share: int) -> None:
        for _ in range(share):
            started = time.perf_counter()
            reply = await client.get(
                "/v1/metrics/dora", params=params, headers={"Authorization": bearer()}
            )
            keys.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200, reply.text

    async def sample() -> None:
        nonlocal most
        while True:
            most = max(most, pool.checkedout())
            await asyncio.sleep(0.001)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(caller(calls // concurrency))
    elapsed = time.perf_counter() - started
    sampler.cancel()
    print(
        f"{len(keys)} DORA calls by {concurrency} clients at once; load {os.getloadavg()[0]:.1f}:"
    )
    print(line("DORA keys", keys, 95, width=12))
    print(
        f"  {len(keys) / elapsed:.1f} calls/s; at most {most} connections checked out at "
        f"once (a pool of {pool.size()}, as many more on overflow)"
    )
    return 0


async def main(count: int, calls: int, purged_days: int, concurrency: int) -> int:
    workspaces = [uuid7() for _ in range(count)]
    private_pem, public_pem = generate_keypair()  # the bench mints the tokens
    insights = running_on_embedded_postgres(SPEC, internal_token_public_key=public_pem)
    async with insights as (client, state, url):
        loaded = time.perf_counter()
        totals: dict[str, int] = {}
        for index, workspace in enumerate(workspaces):
            async with state.db.transaction(TENANT) as session:
                for table, values in year_of(workspace, index).items():
                    totals[table.name] = totals.get(table.name, 0) + len(values)
                    for start in range(0, len(values), 2000):
                        await session.execute(sa.insert(table), values[start : start + 2000])
        if purged_days:
            await purge(state, purged_days)
        owner = await asyncpg.connect(plain_dsn(url))
        # As autovacuum would have by now (it vacuums insert-only tables too): the
        # statistics, and the visibility map the index-only scans rely on.
        await owner.execute("VACUUM ANALYZE")
        await owner.close()
        print(
            f"loaded {count} workspaces, a year: {totals['deployments']:,} deployments, "
            f"{totals['change_requests']:,} changes shipped, {totals['incidents']} "
            f"incidents in {time.perf_counter() - loaded:.1f} s"
        )
        signer = InternalTokenSigner(load_private_key(private_pem))

        def bearer() -> str:
            return "Bearer " + signer.mint(
                service="insights",
                subject="bench",
                role="tenant_admin",
                tenant_id=TENANT,
                scope_workspaces=workspaces,
            )

        params = {
            "scope": f"view:{VIEW}",
            "definition": "dora-2024",
            "since": (NOW - timedelta(days=DAYS)).isoformat(),
            "until": NOW.isoformat(),
        }
        if concurrency > 1:
            return await concurrent_calls(client, state, bearer, params, calls, concurrency)
        keys, plain = [], []
        for _ in range(calls):
            client.headers["Authorization"] = bearer()  # a minute's token, as the gateway's
            started = time.perf_counter()
            reply = await client.get("/v1/metrics/dora", params=params)
            keys.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200, reply.text
            started = time.perf_counter()
            await plain_query(state, workspaces)
            plain.append((time.perf_counter() - started) * 1000)
        print("deployment frequency:", reply.json()["deployment_frequency"]["deployments"])
    load = os.getloadavg()[0]
    print(
        f"{calls} DORA calls, a view of {count} workspaces over a year "
        f"({purged_days} days of it purged); load {load:.1f}:"
    )
    for name, values in (("DORA keys", keys), ("plain query", plain)):
        print(line(name, values, 95, width=12))
    print(f"ratio p95 {pct(keys, 95) / pct(plain, 95):.1f}x")
    verdict = "met" if pct(keys, 95) <= 100 else "NOT met"
    print(f"target: DORA p95 <= 100 ms: {verdict}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--purged-days", type=int, default=0, choices=range(DAYS + 1))
    parser.add_argument("--concurrency", type=int, default=1)
    arguments = parser.parse_args()
    sys.exit(
        asyncio.run(
            main(
                arguments.workspaces,
                arguments.calls,
                arguments.purged_days,
                arguments.concurrency,
            )
        )
    )

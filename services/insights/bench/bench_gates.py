"""Gate evaluation latency on real PostgreSQL, next to a plain indexed lookup of the same facts.

    .venv/bin/python services/insights/bench/bench_gates.py [--changes 10000] [--evaluations 300]

Loaded into one workspace and one repository (the worst case: every query of a gate
narrows to it): ``--changes`` open change requests, each with a push of two commits on its
head branch, a review and a green build of its head; a year of production deployments (four
a day, each with its build) and an incident a week. The policy turns every rule on (reviews,
work item, builds, size, incidents, a DORA delivery budget over 28 days, a freeze window).

- **evaluate**: ``POST /v1/gates/evaluate`` through the service's HTTP app (in-process), a
  random open change's head SHA each time: resolve the SHA, read the facts, run the rules,
  store the answer and stage its event, commit. Half the SHAs are asked twice, so the
  stored-answer path is measured too.
- **baseline**: the same facts read by their keys in one transaction — the change request
  by id, its reviews, the builds of the SHA, the year's deployments and incidents — the
  least any evaluation must read.

Prints p50/p99 of each and their ratio; target p99 <= 100 ms (pipelines wait on it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import sqlalchemy as sa
from _timing import line, pct

from sextant.contracts import uuid7
from sextant.insights.db import builds, change_requests, deployments, incidents, pushes, reviews
from sextant.insights.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_on_embedded_postgres
from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

TENANT, WORKSPACE = uuid7(), uuid7()
REPOSITORY, REPOSITORY_ID = "octo-org/api", "r-api"
NOW = datetime.now(UTC)
POLICY = {
    "rules": {
        "reviews": {"minimum": 1},
        "work_item": {},
        "builds": {},
        "size": {"warn_over_lines": 400},
        "incidents": {"severity_at_least": "SEV2"},
        "delivery_budget": {"window_days": 28, "max_change_failure_rate": 0.5},
        "freeze": {
            "windows": [
                {
                    "name": "year-end",
                    "time_zone": "Europe/Paris",
                    "starts": "2031-12-23T18:00:00",
                    "ends": "2032-01-04T08:00:00",
                }
            ]
        },
    }
}


def sha(n: int, kind: str) -> str:
    return f"{kind}{n:039x}"[:40]


def facts(changes: int) -> dict[sa.Table, list[dict[str, Any]]]:
    """Rows of every projection the gate reads, as the consumer would have written them."""
    common = {"tenant_id": TENANT, "workspace_id": WORKSPACE}
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        t: [] for t in (change_requests, reviews, pushes, builds, deployments, incidents)
    }
    for n in range(changes):
        change_id, opened = uuid7(), NOW - timedelta(minutes=n)
        head = sha(n, "c")
        rows[change_requests].append(
            common
            | {
                "id": change_id,
                "source_kind": "github",
                "external_id": f"pr-{n}",
                "repository_id": REPOSITORY_ID,
                "repository": REPOSITORY,
                "number": n,
                "title": f"PROJ-{n} change {n}",
                "author_developer_id": uuid7(),
                "author_is_bot": False,
                "base_branch": "main",
                "head_branch": f"feature/{n}",
                "draft": False,
                "labels": [],
                "opened_at": opened,
                "commit_shas": [],
                "snapshot_at": opened,
            }
        )
        rows[reviews].append(
            common
            | {
                "change_request_id": change_id,
                "review_id": f"rev-{n}",
                "reviewer_developer_id": uuid7(),
                "reviewer_is_bot": False,
                "state": "approved",
                "submitted_at": opened,
            }
        )
        rows[pushes].append(
            common
            | {
                "event_id": uuid7(),
                "repository_id": REPOSITORY_ID,
                "branch": f"feature/{n}",
                "after_sha": head,
                "before_sha": None,
                "forced": False,
                "commit_shas": [sha(n, "b"), head],
                "pusher_is_bot": False,
                "pushed_at": opened,
            }
        )
        rows[builds].append(build(common, head, opened))
    for day in range(365):
        for k in range(4):
            at = NOW - timedelta(days=day, hours=3 * k)
            deployed = sha(day * 4 + k, "d")
            rows[deployments].append(
                common
                | {
                    "id": uuid7(),
                    "source_kind": "github",
                    "external_id": f"dep-{day}-{k}",
                    "repository_id": REPOSITORY_ID,
                    "repository": REPOSITORY,
                    "environment": "production",
                    "is_production": True,
                    "sha": deployed,
                    "status": "success",
                    "status_at": at,
                    "finished_at": at,
                    "succeeded_at": at,
                    "deployed_by_is_bot": False,
                }
            )
            rows[builds].append(build(common, deployed, at))
        if day % 7 == 0:
            rows[incidents].append(
                common
                | {
                    "id": uuid7(),
                    "source_kind": "generic",
                    "external_id": f"inc-{day}",
                    "title": "errors",
                    "severity": "SEV3",
                    "service": "api",
                    "deployment_sha": sha(day * 4, "d"),
                    "opened_at": NOW - timedelta(days=day) + timedelta(hours=1),
                    "resolved_at": NOW - timedelta(days=day) + timedelta(hours=2),
                    "snapshot_at": NOW - timedelta(days=day) + timedelta(hours=2),
                }
            )
    return rows


def build(common: dict[str, Any], commit: str, at: datetime) -> dict[str, Any]:
    return common | {
        "id": uuid7(),
        "source_kind": "github",
        "external_id": f"build-{commit}",
        "repository_id": REPOSITORY_ID,
        "repository": REPOSITORY,
        "name": "ci",
        "status": "success",
        "sha": commit,
        "finished_at": at,
        "triggered_by_is_bot": False,
    }


async def baseline(state: Any, change_id: UUID, commit: str) -> None:
    """The same facts by their keys: what any evaluation must at least read."""
    since = NOW - timedelta(days=35)
    async with state.db.transaction(TENANT) as session:
        c, r, b, d, i = change_requests, reviews, builds, deployments, incidents
        await session.execute(sa.select(c).where(c.c.tenant_id == TENANT, c.c.id == change_id))
        await session.execute(
            sa.select(r).where(r.c.tenant_id == TENANT, r.c.change_request_id == change_id)
        )
        await session.execute(
            sa.select(b).where(
                b.c.tenant_id == TENANT, b.c.workspace_id == WORKSPACE, b.c.sha == commit
            )
        )
        await session.execute(
            sa.select(d.c.id, d.c.succeeded_at).where(
                d.c.tenant_id == TENANT,
                d.c.workspace_id == WORKSPACE,
                d.c.repository_id == REPOSITORY_ID,
                d.c.succeeded_at >= since,
            )
        )
        await session.execute(
            sa.select(i).where(
                i.c.tenant_id == TENANT, i.c.workspace_id == WORKSPACE, i.c.opened_at >= since
            )
        )


async def main(changes: int, evaluations: int) -> int:
    rng = random.Random(26)
    private_pem, public_pem = generate_keypair()  # the bench mints the tokens
    insights = running_on_embedded_postgres(SPEC, internal_token_public_key=public_pem)
    async with insights as (client, state, url):
        loaded = time.perf_counter()
        rows = facts(changes)
        async with state.db.transaction(TENANT) as session:
            for table, values in rows.items():
                for start in range(0, len(values), 2000):
                    await session.execute(sa.insert(table), values[start : start + 2000])
        owner = await asyncpg.connect(plain_dsn(url))
        await owner.execute("ANALYZE")  # as autovacuum would have by now
        await owner.close()
        print(
            f"loaded {changes:,} open change requests, {len(rows[deployments]):,} "
            f"deployments over a year, {len(rows[builds]):,} builds, "
            f"{len(rows[incidents])} incidents in {time.perf_counter() - loaded:.1f} s"
        )
        signer = InternalTokenSigner(load_private_key(private_pem))

        def bearer() -> str:
            return "Bearer " + signer.mint(
                service="insights", subject="bench", role="tenant_admin", tenant_id=TENANT
            )

        client.headers["Authorization"] = bearer()
        scope = {"scope": f"workspace:{WORKSPACE}"}
        reply = await client.put("/v1/gate-policies", params=scope, json=POLICY)
        assert reply.status_code == 200, reply.text
        picks = [rng.randrange(changes) for _ in range(evaluations // 2)]
        picks = picks + picks  # each SHA asked twice: the stored answer too
        evaluated, again, base = [], [], []
        seen: set[int] = set()
        for count, n in enumerate(picks):
            if count % 50 == 0:  # internal tokens live a minute, as the gateway's
                client.headers["Authorization"] = bearer()
            started = time.perf_counter()
            reply = await client.post(
                "/v1/gates/evaluate",
                params=scope,
                json={
                    "repository": REPOSITORY,
                    "sha": sha(n, "c"),
                    "environment": "production",
                },
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert reply.status_code in (200, 201), reply.text
            assert reply.json()["verdict"] == "warn", reply.json()  # size: unknown
            (again if n in seen else evaluated).append(elapsed)
            seen.add(n)
            change_id = rows[change_requests][n]["id"]
            started = time.perf_counter()
            await baseline(state, change_id, sha(n, "c"))
            base.append((time.perf_counter() - started) * 1000)
    everything = evaluated + again
    load = os.getloadavg()[0]
    print(f"{len(everything)} evaluations (half asked again), every rule on; load {load:.1f}:")
    for name, values in (
        ("evaluate (all)", everything),
        ("  new answer", evaluated),
        ("  asked again", again),
        ("baseline lookup", base),
    ):
        print(line(name, values, 99))
    print(
        f"ratio evaluate/baseline: p50 {statistics.median(everything) / statistics.median(base):.1f}x"
        f"   p99 {pct(everything, 99) / pct(base, 99):.1f}x"
    )
    verdict = "met" if pct(everything, 99) <= 100 else "NOT met"
    print(f"target: evaluation p99 <= 100 ms: {verdict}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--evaluations", type=int, default=300)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.changes, arguments.evaluations)))

"""Every service as its own `sextant serve` process on Kafka, as the chart deploys them:
the command is the image's entrypoint plus the chart's container args, the environment is
what the chart renders for each Deployment (Secrets resolved, addresses substituted), the
migrations Job's commands run first. Through the gateway: signed Jira and GitHub webhooks
become developers and forecast history; identity runs as two processes sharing the
partitions; forecast is killed mid-stream and restarted, and nothing is lost or doubled;
`/v1/status` names the dead service meanwhile."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sextant.cli import cluster, deployment
from sextant.cli.cluster import Fleet
from sextant.cli.testing import eventually
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.servers import ACCESS_KEY, SECRET_KEY, MotoS3

ISSUES = 10  # distinct keys, so both identity processes get some of them
# A process imports every service: ~3 s on a quiet box, near a minute on a loaded CI one.
STARTUP_SECONDS = 240
NOW = datetime.now(UTC)
ADA = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Ada Lovelace"}
GRACE = {"login": "grace", "id": 7707, "type": "User"}


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    running = Fleet()
    yield running
    running.stop()  # every child, whatever the test's outcome


def jira_hooks(n: int) -> list[dict[str, Any]]:
    """Issue ENG-n created, started and resolved."""
    issue_id = str(10100 + n)

    def issue(status: str, category: str) -> dict[str, Any]:
        return {
            "id": issue_id,
            "key": f"ENG-{n}",
            "self": f"https://jira.example.org/rest/api/2/issue/{issue_id}",
            "fields": {
                "summary": f"Piece {n}",
                "issuetype": {"name": "Story"},
                "project": {"key": "ENG"},
                "status": {"name": status, "statusCategory": {"key": category}},
                "assignee": ADA,
                "reporter": ADA,
                "created": (NOW - timedelta(days=12)).isoformat(),
            },
        }

    def moved(step: int, old: str, new: str, category: str, days_ago: int) -> dict[str, Any]:
        return {
            "timestamp": int((NOW - timedelta(days=days_ago)).timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "user": ADA,
            "issue": issue(new, category),
            "changelog": {
                "id": f"{n}{step}",
                "items": [{"field": "status", "fromString": old, "toString": new}],
            },
        }

    created = {"timestamp": 0, "webhookEvent": "jira:issue_created", "user": ADA}
    return [
        created | {"issue": issue("To Do", "new")},
        moved(1, "To Do", "In Progress", "indeterminate", 10),
        moved(2, "In Progress", "Done", "done", 8),
    ]


def pull_request() -> dict[str, Any]:
    return {
        "action": "opened",
        "number": 42,
        "pull_request": {
            "id": 1042,
            "number": 42,
            "html_url": "https://github.com/octo-org/octo-repo/pull/42",
            "title": "Make the widget faster",
            "user": GRACE,
            "state": "open",
            "draft": False,
            "labels": [],
            "created_at": "2026-03-02T09:00:00Z",
            "updated_at": "2026-03-02T09:00:00Z",
            "closed_at": None,
            "merged_at": None,
            "merged": False,
            "head": {"ref": "faster", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
            "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b"},
        },
        "repository": {"id": 1, "full_name": "octo-org/octo-repo", "name": "octo-repo"},
        "sender": GRACE,
    }


def handled(metrics: str, topic: str) -> float:
    """A process's count of ``topic``'s events whose effect committed (Prometheus text)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("sextant_events_handled_total{")
        and f'topic="{topic}"' in line
        and 'outcome="ok"' in line
    )


async def test_the_chart_runs_apart_on_kafka_losing_and_doubling_nothing(
    database_url: str,
    kafka_bootstrap: str,
    s3_endpoint: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    fleet: Fleet,
) -> None:
    release = "sextant"
    bucket = f"sextant-{secrets.token_hex(4)}"
    MotoS3.create_bucket_at(s3_endpoint, bucket)
    issuer_pem = new_local_issuer_pem()
    only = {"autoscaling": {"enabled": False}}
    manifests = deployment.render(
        {
            "kafka": {
                "bootstrapServers": kafka_bootstrap,
                "partitions": 4,
                "replicationFactor": 1,
                "enableIdempotence": False,  # the test broker (tansu) refuses it
            },
            "s3": {"endpointUrl": s3_endpoint, "bucket": bucket},
            "env": {"SEXTANT_CONSUMER_BACKOFF_SECONDS": "0.05"},
            "services": {
                name: only | {"replicas": 2 if name == "identity" else 1}
                for name in ("gateway", "ingest", "identity", "forecast", "insights")
            }
            | {
                "archive": only | {"replicas": 1},
                "reports": only | {"replicas": 1},
            }
            | {
                "gateway": only
                | {"replicas": 1, "env": {"SEXTANT_GATEWAY_LOCAL_ISSUER_PRIVATE_KEY": issuer_pem}}
            },
        },
        release=release,
    )
    cluster_secrets = {
        "sextant-database": {"url": database_url, "app-role-password": "sextant-app"},
        "sextant-s3": {"access-key-id": ACCESS_KEY, "secret-access-key": SECRET_KEY},
        "sextant-internal-token": {
            "public.pem": internal_keys.public_pem,
            "private.pem": internal_keys.private_pem,
        },
        "sextant-ingest": {
            "secret-keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
        },
        "sextant-gateway": {
            "secret-keys": "g1:" + base64.b64encode(secrets.token_bytes(32)).decode()
        },
    }
    # The migrations Job's commands, then every Deployment's processes.
    await asyncio.to_thread(cluster.run_jobs, manifests, cluster_secrets, tmp_path)
    cluster.start_release(manifests, cluster_secrets, tmp_path, fleet, release=release)
    assert len(fleet.of("identity")) == 2

    issuer = LocalIssuer.from_pem(issuer_pem)
    root = {
        "Authorization": "Bearer "
        + issuer.mint(subject="root", role="platform_admin", tenant_id=None, ttl_seconds=900)
    }
    gateway = fleet.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as public:
        last_status: list[str] = []

        async def all_ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                reply = await public.get("/v1/status")
                last_status[:] = [reply.text]
                return reply.status_code == 200
            return False

        try:
            await eventually(all_ready, seconds=STARTUP_SECONDS, every=0.5)
            tenant = (await public.post("/v1/tenants", json={"name": "Acme"}, headers=root)).json()
            admin = {
                "Authorization": "Bearer "
                + issuer.mint(
                    subject="admin", role="tenant_admin", tenant_id=tenant["id"], ttl_seconds=900
                )
            }
            workspace = (
                await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
            ).json()["id"]
            sources = {
                kind: (
                    await public.post(
                        f"/v1/workspaces/{workspace}/sources",
                        json={"kind": kind, "name": kind},
                        headers=admin,
                    )
                ).json()
                for kind in ("jira", "github")
            }

            async def deliver(
                kind: str, hook: dict[str, Any], delivery: str, expected: int = 202
            ) -> dict[str, Any]:
                body = json.dumps(hook).encode()
                source = sources[kind]
                digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
                headers = {"content-type": "application/json"} | (
                    {
                        "x-hub-signature": f"sha256={digest}",
                        "x-atlassian-webhook-identifier": delivery,
                    }
                    if kind == "jira"
                    else {
                        "x-hub-signature-256": f"sha256={digest}",
                        "x-github-event": "pull_request",
                        "x-github-delivery": delivery,
                    }
                )
                reply = await public.post(
                    f"/v1/hooks/{source['id']}", content=body, headers=headers
                )
                assert reply.status_code == expected, reply.text
                answer: dict[str, Any] = reply.json()
                return answer

            await deliver("github", pull_request(), "gh-1")
            for n in range(1, ISSUES // 2 + 1):
                for step, hook in enumerate(jira_hooks(n)):
                    await deliver("jira", hook, f"jira-{n}-{step}")

            # forecast dies mid-stream; the status names it while the hooks keep coming
            (forecast,) = fleet.of("forecast")
            forecast.kill()

            async def named_dead() -> dict[str, Any] | None:
                reply = await public.get("/v1/status")
                services = reply.json()["services"]
                return (
                    reply.json()
                    if reply.status_code == 503 and not services["forecast"]["ready"]
                    else None
                )

            status = await eventually(named_dead, seconds=30)
            assert [name for name, s in status["services"].items() if not s["ready"]] == [
                "forecast"
            ]
            for n in range(ISSUES // 2 + 1, ISSUES + 1):
                for step, hook in enumerate(jira_hooks(n)):
                    await deliver("jira", hook, f"jira-{n}-{step}")
            again = await deliver("jira", jira_hooks(1)[2], "jira-1-2", expected=200)
            assert again["outcome"] == "duplicate"  # a tool's retry: one effect
            forecast.start()

            manager = {
                "Authorization": "Bearer "
                + issuer.mint(
                    subject="manager", role="manager", tenant_id=tenant["id"], ttl_seconds=900
                )
            }
            scope = {"scope": f"workspace:{workspace}", "window_weeks": 4}

            async def history() -> dict[str, Any] | None:
                reply = await public.get("/v1/forecasts/history", params=scope, headers=manager)
                body: dict[str, Any] = reply.json()
                return (
                    body if reply.status_code == 200 and sum(body["throughput"]) >= ISSUES else None
                )

            settled = await eventually(history, seconds=STARTUP_SECONDS, every=0.5)
            assert sum(settled["throughput"]) == ISSUES  # every issue once: none lost, none doubled

            developers = (await public.get("/v1/developers", headers=manager)).json()["items"]
            assert "Ada Lovelace" in [d["display_name"] for d in developers]
            assert len(developers) == 2, developers  # Ada (Jira) and grace (GitHub), once each

            # both identity processes took their share of the partitions' records
            shares = [
                handled(await asyncio.to_thread(pod.metrics), "sextant.activity")
                for pod in fleet.of("identity")
            ]
            assert all(share > 0 for share in shares), shares
            assert (await public.get("/v1/status")).status_code == 200
        except BaseException:
            print(fleet.logs(), last_status)
            raise

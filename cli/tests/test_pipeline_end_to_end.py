"""A Jira issue created, started and resolved through real, signed webhooks travels the
whole pipeline as it does under `sextant run`: gateway → ingest → identity (attributed to
a developer) → forecast, where it shows in the throughput history."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sextant.cli.services import UPSTREAM_SPECS
from sextant.contracts import uuid7
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import create_service_app
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

TENANT, WORKSPACE = uuid7(), uuid7()
NOW = datetime.now(UTC)
USER = {
    "accountId": "5b10ac8d82e05b22cc7d4ef5",
    "displayName": "Ada Lovelace",
    "emailAddress": "ada@lovelace.example.org",
}


def issue(status: str, category: str) -> dict[str, Any]:
    return {
        "id": "10070",
        "key": "ENG-1",
        "self": "https://jira.example.org/rest/api/2/issue/10070",
        "fields": {
            "summary": "Export the dashboard",
            "issuetype": {"name": "Story"},
            "project": {"key": "ENG"},
            "status": {"name": status, "statusCategory": {"key": category}},
            "assignee": USER,
            "reporter": USER,
            "created": (NOW - timedelta(days=12)).isoformat(),
        },
    }


def webhooks() -> list[dict[str, Any]]:
    def moved(n: int, old: str, new: str, category: str, days_ago: int) -> dict[str, Any]:
        return {
            "timestamp": int((NOW - timedelta(days=days_ago)).timestamp() * 1000),
            "webhookEvent": "jira:issue_updated",
            "user": USER,
            "issue": issue(new, category),
            "changelog": {
                "id": str(n),
                "items": [{"field": "status", "fromString": old, "toString": new}],
            },
        }

    created = {
        "timestamp": 0,
        "webhookEvent": "jira:issue_created",
        "user": USER,
        "issue": issue("To Do", "new"),
    }
    return [
        created,
        moved(1, "To Do", "In Progress", "indeterminate", 10),
        moved(2, "In Progress", "Done", "done", 8),
    ]


async def test_a_jira_issue_flows_from_webhook_to_forecast_history(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = service_settings(database_url, internal_keys, data_dir=tmp_path)
    bus = create_bus(settings)
    await bus.start()
    apps: dict[str, FastAPI] = {
        name: create_service_app(
            spec, settings, bus_factory=lambda: bus, owns_bus=False, configure_logs=False
        )
        for name, spec in UPSTREAM_SPECS.items()
    }
    gateway = create_gateway(settings, upstreams=Upstreams.in_process(apps, timeout=5), bus=bus)
    try:
        async with (
            running_app(apps["ingest"]) as ingest,
            running_app(apps["identity"]) as identity,
            running_app(apps["forecast"]) as forecast,
            running_app(gateway) as public,
        ):

            def as_manager(service: str, role: str = "manager") -> dict[str, str]:
                token = internal_keys.signer.mint(
                    service=service, subject="u", role=role, tenant_id=TENANT
                )  # type: ignore[arg-type]
                return {"Authorization": f"Bearer {token}"}

            source = (
                await ingest.post(
                    f"/v1/workspaces/{WORKSPACE}/sources",
                    json={"kind": "jira", "name": "ENG"},
                    headers=as_manager("ingest", "tenant_admin"),
                )
            ).json()
            for n, hook in enumerate(webhooks()):
                body = json.dumps(hook).encode()
                digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
                reply = await public.post(
                    f"/v1/hooks/{source['id']}",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "x-hub-signature": f"sha256={digest}",
                        "x-atlassian-webhook-identifier": f"jira-{n}",
                    },
                )
                assert reply.status_code == 202, reply.text

            history: dict[str, Any] = {}
            for _ in range(150):
                response = await forecast.get(
                    "/v1/forecasts/history",
                    params={"scope": f"workspace:{WORKSPACE}", "window_weeks": 4},
                    headers=as_manager("forecast"),
                )
                history = response.json()
                if response.status_code == 200 and sum(history["throughput"]) == 1:
                    break
                await asyncio.sleep(0.1)
            assert sum(history.get("throughput", [])) == 1, history

            developers = (
                await identity.get("/v1/developers", headers=as_manager("identity"))
            ).json()
            assert [d["display_name"] for d in developers["items"]] == ["Ada Lovelace"]
    finally:
        await bus.stop()

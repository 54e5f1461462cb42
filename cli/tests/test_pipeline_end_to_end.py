"""A Jira issue created, started and resolved through real, signed webhooks travels the
whole pipeline as it does under `sextant run`: gateway → ingest → identity (attributed to
a developer) → forecast, where it shows in the throughput history and moves the forecast —
every call made through the gateway with bearer tokens, as a user would."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sextant.cli.testing import eventually, running_platform
from sextant.runtime.testing.plugin import InternalKeys


def half_a_year_ahead() -> str:
    """A date a forecast may ask about (within its five-year horizon)."""
    return (datetime.now(UTC).date() + timedelta(weeks=26)).isoformat()


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
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        public = platform.client
        tenant = await platform.tenant("Acme")
        admin, manager = (
            platform.headers("tenant_admin", tenant),
            platform.headers("manager", tenant),
        )
        workspace = (
            await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
        ).json()["id"]
        scope = {"scope": f"workspace:{workspace}"}
        before = await public.get(
            "/v1/forecasts/how-many",
            params={**scope, "until": half_a_year_ahead()},
            headers=manager,
        )
        assert before.status_code == 422, before.text  # no history yet: nothing to forecast

        source = (
            await public.post(
                f"/v1/workspaces/{workspace}/sources",
                json={"kind": "jira", "name": "ENG"},
                headers=admin,
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

        async def counted() -> dict[str, Any] | None:
            reply = await public.get(
                "/v1/forecasts/history", params={**scope, "window_weeks": 4}, headers=manager
            )
            history: dict[str, Any] = reply.json()
            return history if reply.status_code == 200 and sum(history["throughput"]) == 1 else None

        history = await eventually(counted)
        assert history["cycle_time"], history

        after = await public.get(
            "/v1/forecasts/how-many",
            params={**scope, "until": (NOW + timedelta(days=28)).date().isoformat()},
            headers=manager,
        )
        assert after.status_code == 200, after.text
        assert after.json()["inputs"]["scope"] == scope["scope"]

        developers = (await public.get("/v1/developers", headers=manager)).json()
        assert [d["display_name"] for d in developers["items"]] == ["Ada Lovelace"]

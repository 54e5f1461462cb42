"""Work items ingested through signed Jira webhooks read back through the gateway, as a
user does: listed per view (two workspaces, each with its own source), paged, as CSV, with
the assignee identity resolved and the source connection each came from; another
tenant's view of the same workspace id is refused at the gateway."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sextant.cli.testing import eventually, running_platform
from sextant.runtime.testing.plugin import InternalKeys

NOW = datetime.now(UTC)
ADA = {
    "accountId": "5b10ac8d82e05b22cc7d4ef5",
    "displayName": "Ada Lovelace",
    "emailAddress": "ada@lovelace.example.org",
}


def created(number: int, key: str, days_ago: int) -> dict[str, Any]:
    """A Jira "issue created" webhook for an issue assigned to Ada."""
    return {
        "timestamp": int((NOW - timedelta(days=days_ago)).timestamp() * 1000),
        "webhookEvent": "jira:issue_created",
        "user": ADA,
        "issue": {
            "id": str(10000 + number),
            "key": key,
            "self": f"https://jira.example.org/rest/api/2/issue/{10000 + number}",
            "fields": {
                "summary": f"Story {key}",
                "issuetype": {"name": "Story"},
                "project": {"key": key.split("-")[0]},
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                "assignee": ADA,
                "reporter": ADA,
                "created": (NOW - timedelta(days=days_ago)).isoformat(),
            },
        },
    }


async def send(client: httpx.AsyncClient, source: dict[str, Any], hook: dict[str, Any]) -> None:
    body = json.dumps(hook).encode()
    digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    reply = await client.post(
        f"/v1/hooks/{source['id']}",
        content=body,
        headers={
            "content-type": "application/json",
            "x-hub-signature": f"sha256={digest}",
            "x-atlassian-webhook-identifier": f"hook-{hook['issue']['key']}",
        },
    )
    assert reply.status_code == 202, reply.text


async def test_work_items_read_back_through_the_gateway_per_view_paged_and_as_csv(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        public = platform.client
        tenant = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", tenant)
        manager = platform.headers("manager", tenant)
        workspaces, sources = [], []
        for name in ("web", "api"):
            workspace = (
                await public.post("/v1/workspaces", json={"name": name}, headers=admin)
            ).json()["id"]
            source = (
                await public.post(
                    f"/v1/workspaces/{workspace}/sources",
                    json={"kind": "jira", "name": name.upper()},
                    headers=admin,
                )
            ).json()
            workspaces.append(workspace)
            sources.append(source)
        view = await public.post(
            "/v1/views", json={"name": "all", "workspace_ids": workspaces}, headers=admin
        )
        assert view.status_code == 201, view.text
        scope = f"view:{view.json()['id']}"
        await send(public, sources[0], created(1, "WEB-1", days_ago=3))
        await send(public, sources[0], created(2, "WEB-2", days_ago=1))
        await send(public, sources[1], created(3, "API-1", days_ago=2))

        async def all_three() -> dict[str, Any] | None:
            reply = await public.get(
                "/v1/work-items", params={"scope": scope, "limit": 2}, headers=manager
            )
            page: dict[str, Any] = reply.json()
            return page if reply.status_code == 200 and page["total"] == 3 else None

        first = await eventually(all_three)
        # Newest created first, across both workspaces of the view.
        assert [i["key"] for i in first["items"]] == ["WEB-2", "API-1"]
        second = await public.get(
            "/v1/work-items",
            params={"scope": scope, "limit": 2, "cursor": first["next_cursor"]},
            headers=manager,
        )
        assert second.status_code == 200, second.text
        assert [i["key"] for i in second.json()["items"]] == ["WEB-1"]

        developers = (await public.get("/v1/developers", headers=manager)).json()["items"]
        ada = next(d["id"] for d in developers if d["display_name"] == "Ada Lovelace")
        web1, api1 = second.json()["items"][0], first["items"][1]
        assert web1["assignee_developer_id"] == ada
        assert (web1["source_id"], api1["source_id"]) == (sources[0]["id"], sources[1]["id"])

        as_csv = await public.get(
            "/v1/work-items",
            params={"scope": scope, "limit": 2},
            headers={**manager, "Accept": "text/csv"},
        )
        assert as_csv.status_code == 200, as_csv.text
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [(r["key"], r["assignee_developer_id"]) for r in rows] == [
            ("WEB-2", ada),
            ("API-1", ada),
        ]
        following = as_csv.headers["Link"].split(";")[0].strip("<>")
        rest = await public.get(following, headers={**manager, "Accept": "text/csv"})
        assert [r["key"] for r in csv.DictReader(io.StringIO(rest.text))] == ["WEB-1"]

        other = platform.headers("manager", await platform.tenant("Globex"))
        refused = await public.get(
            "/v1/work-items", params={"scope": f"workspace:{workspaces[0]}"}, headers=other
        )
        assert refused.status_code == 404, refused.text  # not theirs: not even said to exist

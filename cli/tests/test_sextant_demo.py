"""``sextant webhook send`` and ``sextant demo`` against a whole platform served on
loopback (every service in-process over real PostgreSQL, the gateway behind uvicorn): the
commands speak plain HTTP to it as they would to `make run`."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from sextant.cli.demo import Pacer
from sextant.cli.demo_data import DemoHistory, generate
from sextant.cli.main import app
from sextant.cli.testing import Platform, eventually, running_platform
from sextant.cli.webhooks import deliver
from sextant.gateway.settings import GatewaySettings
from sextant.runtime.testing.apps import served
from sextant.runtime.testing.plugin import InternalKeys


@asynccontextmanager
async def serving(platform: Platform) -> AsyncIterator[str]:
    """The platform's gateway on a loopback port (its lifespan already runs: not again)."""

    async def gateway(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await platform.gateway(scope, receive, send)

    async with served(gateway) as url:
        yield url


async def sextant(*args: str) -> Result:
    """The command, run as a user runs it (its own event loop, in a thread)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


JIRA_DONE = {
    "timestamp": int((datetime.now(UTC) - timedelta(days=8)).timestamp() * 1000),
    "webhookEvent": "jira:issue_updated",
    "user": {"accountId": "5b10", "displayName": "Ada Lovelace"},
    "issue": {
        "id": "10070",
        "key": "ENG-1",
        "fields": {
            "summary": "Export the dashboard",
            "issuetype": {"name": "Story"},
            "project": {"key": "ENG"},
            "status": {"name": "Done", "statusCategory": {"key": "done"}},
            "created": (datetime.now(UTC) - timedelta(days=12)).isoformat(),
        },
    },
    "changelog": {
        "id": "1",
        "items": [{"field": "status", "fromString": "In Progress", "toString": "Done"}],
    },
}


async def test_webhook_send_signs_a_file_as_jira_does_and_prints_the_reply(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    payload = tmp_path / "done.json"
    payload.write_text(json.dumps(JIRA_DONE))
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        tenant = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", tenant)
        client = platform.client
        workspace = (await client.post("/v1/workspaces", json={"name": "e"}, headers=admin)).json()
        source = (
            await client.post(
                f"/v1/workspaces/{workspace['id']}/sources",
                json={"kind": "jira", "name": "ENG"},
                headers=admin,
            )
        ).json()
        async with serving(platform) as url:
            sent = await sextant(
                "webhook", "send", source["id"], str(payload), "--secret", source["secret"],
                "--url", url, "--delivery", "jira-1",
            )  # fmt: skip
            assert sent.exit_code == 0, sent.output
            assert sent.stdout.startswith("202 normalized"), sent.stdout
            receipt = json.loads(sent.stdout.split("\n", 1)[1])
            assert receipt["delivery_id"] == "jira-1"
            assert receipt["events"] == 1

            again = await sextant(
                "webhook", "send", source["id"], str(payload), "--secret", source["secret"],
                "--url", url, "--delivery", "jira-1",
            )  # fmt: skip
            assert again.exit_code == 0, again.output
            assert again.stdout.startswith("200 duplicate"), again.stdout

            forged = await sextant(
                "webhook", "send", source["id"], str(payload), "--secret", "not-the-secret-at-all",
                "--url", url,
            )  # fmt: skip
            assert forged.exit_code == 1
            assert forged.stdout.startswith("401 "), forged.stdout
            assert "X-Hub-Signature" in forged.stdout  # the problem's detail names the header

        deliveries = await client.get(f"/v1/sources/{source['id']}/deliveries", headers=admin)
        assert [d["delivery_id"] for d in deliveries.json()["items"]] == ["jira-1"]


async def test_webhook_send_asks_for_the_event_a_payload_does_not_show(tmp_path: Path) -> None:
    payload = tmp_path / "odd.json"
    payload.write_text('{"hello": "world"}')
    result = await sextant(
        "webhook", "send", "any", str(payload), "--secret", "s" * 20, "--url", "http://127.0.0.1:9"
    )
    assert result.exit_code == 2
    assert "--event" in result.output


async def test_demo_loads_a_team_whose_forecast_answers_with_a_sensible_range(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        async with serving(platform) as url:
            result = await sextant(
                "demo", "--url", url, "--data-dir", str(tmp_path), "--weeks", "6", "--team", "4",
                "--seed", "5", "--wait", "120",
            )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "0 refused" in result.output
        assert "first forecast" in result.output, result.output
        found = dict(re.findall(r"^(SEXTANT_\w+)=(\S+)$", result.stdout, re.MULTILINE))
        workspace, token = found["SEXTANT_WORKSPACE"], found["SEXTANT_TENANT_TOKEN"]
        assert "/v1/forecasts/when?scope=workspace:$SEXTANT_WORKSPACE&items=60" in result.stdout

        auth = {"Authorization": f"Bearer {token}"}
        scope = f"workspace:{workspace}"
        reply = await platform.client.get(
            "/v1/forecasts/when", params={"scope": scope, "items": 60}, headers=auth
        )
        assert reply.status_code == 200, reply.text
        forecast = reply.json()
        # 4 people finishing about 1-3 issues a week each: 60 issues take weeks, not days
        # and not years; the chances widen with the percentile
        weeks = forecast["inputs"]["history_weeks"]
        assert len(weeks) >= 5 and all(1 <= w <= 20 for w in weeks[1:]), weeks
        days = [date.fromisoformat(forecast["percentiles"][p]) for p in ("50", "85", "95")]
        today = datetime.now(UTC).date()
        assert today + timedelta(weeks=2) <= days[0] <= days[1] <= days[2]
        assert days[2] <= today + timedelta(weeks=26)

        stale = await platform.client.get(
            "/v1/work-items/stale", params={"scope": scope}, headers=auth
        )
        flagged = stale.json()["items"]
        # the issues planted In Progress 18, 23 and 28 days ago stand out against the
        # team's couple of days (which of them pass the threshold depends on the spread)
        planted = [i for i in flagged if i["status"] == "In Progress" and i["age_days"] >= 18]
        assert planted, flagged

        people = await platform.client.get("/v1/developers", headers=auth)
        assert len(people.json()["items"]) == 4

        # every issue as the generator left it: no transition lost on the way to forecast
        tenants = (await platform.client.get("/v1/tenants", headers=platform.admin)).json()
        [named] = [m for t in tenants["items"] if (m := DEMO_NAME.match(t["name"]))]
        moment = datetime.fromisoformat(named["moment"]).replace(tzinfo=UTC)
        history = generate(moment, seed=5, weeks=6, team_size=4)
        expected = final_statuses(history)
        assert len(expected) == sum(1 for thread in history.threads if "issue" in thread[0].payload)

        differing: dict[str, tuple[str | None, str | None]] = {}

        async def settled() -> bool:
            found = await work_item_statuses(platform, scope, auth)
            differing.clear()
            for key in expected.keys() | found.keys():
                if expected.get(key) != found.get(key):
                    differing[key] = (expected.get(key), found.get(key))
            return not differing

        try:
            await eventually(settled, seconds=60, every=1)
        except AssertionError:
            raise AssertionError(f"(generator, forecast) status per key: {differing}") from None


DEMO_NAME = re.compile(r"^Demo (?P<moment>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \(seed \d+\)$")


def final_statuses(history: DemoHistory) -> dict[str, str]:
    """Each issue's status when the generator stopped: by the lists it kept of them."""
    by_status = (
        ("Done", history.done_keys),
        ("In Review", history.in_review_keys),
        ("In Progress", history.in_progress_keys + history.stale_keys),
        ("To Do", history.backlog_keys),
    )
    return {key: status for status, keys in by_status for key in keys}


async def work_item_statuses(
    platform: Platform, scope: str, auth: dict[str, str]
) -> dict[str, str]:
    """Forecast's status of every work item in ``scope``, through the read API's pages."""
    found: dict[str, str] = {}
    params: dict[str, Any] = {"scope": scope, "limit": 100}
    while True:
        reply = await platform.client.get("/v1/work-items", params=params, headers=auth)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        found |= {item["key"]: item["status"] for item in page["items"]}
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


async def test_a_delivery_over_the_sources_rate_waits_out_retry_after_and_is_accepted(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    """One delivery a second allowed, none banked: the second and third are refused 429
    at first, then accepted after Retry-After, as a tool's retries would be."""
    slow = GatewaySettings(webhook_source_rate_per_second=1.0, webhook_source_burst=1.0)
    async with running_platform(database_url, internal_keys, tmp_path, slow) as platform:
        tenant = await platform.tenant("Acme")
        admin = platform.headers("tenant_admin", tenant)
        client = platform.client
        workspace = (await client.post("/v1/workspaces", json={"name": "e"}, headers=admin)).json()
        source = (
            await client.post(
                f"/v1/workspaces/{workspace['id']}/sources",
                json={"kind": "jira", "name": "ENG"},
                headers=admin,
            )
        ).json()
        body = json.dumps(JIRA_DONE).encode()
        replies = [
            await deliver(client, source["id"], "jira", source["secret"], body, delivery=f"d-{n}")
            for n in range(3)
        ]
    assert [r.status for r in replies] == [202, 202, 202]  # three delivery ids: three stored
    assert replies[0].retries == 0
    assert replies[1].retries >= 1 and replies[2].retries >= 1


async def test_the_pacer_spaces_starts_evenly() -> None:
    pacer = Pacer(20.0)
    started = time.monotonic()
    await asyncio.gather(*(pacer.wait() for _ in range(11)))
    assert time.monotonic() - started >= 0.5  # ten intervals of 50 ms after the first


async def test_demo_without_the_runs_key_says_which_folder_it_needs(tmp_path: Path) -> None:
    """No key is made up: a new one would sign tokens the running gateway rejects."""
    result = await sextant("demo", "--data-dir", str(tmp_path), "--url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "no local issuer key" in result.output and "--data-dir" in result.output
    assert not (tmp_path / "keys").exists()

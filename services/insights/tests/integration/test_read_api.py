"""Attributed activity flows through the real consumer on the local bus into the
projections, and the read API answers from them: the worked example of the deployment
linkage (with a deployment that arrives before its push), redeliveries that change
nothing, a poison event dead-lettered, bots, paging, CSV, tenant isolation and bad input."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED
from sextant.insights.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .scenario import ALICE, ALICE_OLD, BOB, T0, Tenant, hours

TENANT, OTHER_TENANT = uuid7(), uuid7()
WORKSPACE, OTHER_WORKSPACE = uuid7(), uuid7()
SCOPE = f"workspace:{WORKSPACE}"
PROJECTIONS = (
    "change_requests",
    "reviews",
    "commits",
    "pushes",
    "builds",
    "deployments",
    "deployment_changes",
    "incidents",
    "developers",
)


async def until_true(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> Any:
    last = None
    for _ in range(int(seconds / 0.1)):
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s; last: {last!r}")


async def publish(state: ServiceState, scenario: Tenant, envelopes: list[Envelope]) -> None:
    await state.bus.publish([scenario.record(e) for e in envelopes])


async def inbox_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM insights.inbox")
    return count


async def settled(conn: asyncpg.Connection, before: int, published: int) -> None:
    """Wait until the consumer has taken ``published`` more events into its inbox and the
    worker has derived every repository and recomputed every day they queued."""

    async def done() -> bool:
        if await inbox_count(conn) < before + published:
            return False
        waiting: int = await conn.fetchval(
            "SELECT (SELECT count(*) FROM insights.metrics_queue)"
            " + (SELECT count(*) FROM insights.derivation_queue)"
        )
        return waiting == 0

    await until_true(done)


@dataclass
class Running:
    client: httpx.AsyncClient
    state: ServiceState
    conn: asyncpg.Connection
    first: list[Envelope]
    second: list[Envelope] = field(default_factory=list)
    """The scenario's second phase, once a test's fixture published it."""


@pytest.fixture
async def running(database_url: str, internal_keys: InternalKeys) -> AsyncIterator[Running]:
    """Insights with the scenario's first phase projected, a member's token set."""
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            before = await inbox_count(conn)
            first = Tenant(TENANT, WORKSPACE).first_phase()
            await publish(state, Tenant(TENANT, WORKSPACE), first)
            await settled(conn, before, len(first))
            token = internal_keys.signer.mint(
                service="insights", subject="u1", role="member", tenant_id=TENANT
            )
            client.headers["Authorization"] = f"Bearer {token}"
            yield Running(client, state, conn, first)
        finally:
            await conn.close()


async def by_number(client: httpx.AsyncClient, **params: Any) -> dict[int, dict[str, Any]]:
    reply = await client.get("/v1/change-requests", params={"scope": SCOPE, **params})
    assert reply.status_code == 200, reply.text
    return {item["number"]: item for item in reply.json()["items"]}


async def deployments(client: httpx.AsyncClient, **params: Any) -> dict[str, dict[str, Any]]:
    reply = await client.get("/v1/deployments", params={"scope": SCOPE, **params})
    assert reply.status_code == 200, reply.text
    return {f"{d['environment']}@{d['sha']}": d for d in reply.json()["items"]}


async def shipped(client: httpx.AsyncClient, deployment_id: str) -> list[tuple[int, bool]]:
    reply = await client.get(f"/v1/deployments/{deployment_id}", params={"scope": SCOPE})
    assert reply.status_code == 200, reply.text
    return [(c["number"], c["counted"]) for c in reply.json()["changes"]]


async def test_deployments_ship_what_lies_between_them_whatever_the_arrival_order(
    running: Running,
) -> None:
    client, state, conn = running.client, running.state, running.conn
    deployed = await deployments(client)
    d1, d2 = deployed["production@A"]["id"], deployed["production@S1"]["id"]
    d3, staging = deployed["production@r2'"]["id"], deployed["staging@S1"]["id"]

    assert await shipped(client, d1) == [(0, False)]  # first seen: #0 inherited
    assert await shipped(client, d2) == [(1, True)]  # the squash commit S1
    assert sorted(await shipped(client, staging)) == [(0, False), (1, False)]
    # D3 came before main's pushes of #2 and #3: it reaches only its own SHA, #3's.
    assert await shipped(client, d3) == [(3, True)]

    before = await inbox_count(conn)
    second = Tenant(TENANT, WORKSPACE).second_phase()
    await publish(state, Tenant(TENANT, WORKSPACE), second)
    await settled(conn, before, len(second))

    assert sorted(await shipped(client, d3)) == [(2, True), (3, True)]
    changes = await by_number(client, include_bots="true")
    assert changes[1]["deployment_id"] == d2
    assert changes[2]["deployment_id"] == d3 and changes[3]["deployment_id"] == d3
    assert changes[0]["deployment_id"] is None  # inherited, not counted
    assert changes[1]["deployed_at"] == "2026-03-02T16:00:00Z"
    assert deployed["production@S1"]["changes_shipped"] == 1


async def test_a_change_request_has_its_reviews_commits_times_and_deployment(
    running: Running,
) -> None:
    client = running.client
    one = (await by_number(client))[1]

    reply = await client.get(f"/v1/change-requests/{one['id']}", params={"scope": SCOPE})

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["state"] == "merged" and body["merge_sha"] == "S1"
    assert body["commit_shas"] == ["b1", "b2"]
    assert [c["sha"] for c in body["commits"]] == ["b1", "b2"]
    # b1 was authored two minutes before its push at 11:00; the bot's review (12:00)
    # does not count as the first, Bob's (14:00) does.
    assert body["first_commit_at"] == "2026-03-02T10:58:00Z"
    assert body["first_review_at"] == "2026-03-02T14:00:00Z"
    assert [(r["reviewer_developer_id"], r["reviewer_is_bot"]) for r in body["reviews"]] == [
        (str(UUID("0190f5c2-dddd-7000-8000-000000000003")), True),
        (str(BOB), False),
    ]
    assert body["merged_at"] == "2026-03-02T15:00:00Z"
    assert body["deployment"]["sha"] == "S1" and body["deployment"]["environment"] == "production"
    assert body["commits_source"] is None  # a merge that did not say

    # Ingest publishes a webhook's merge again once it has read the commit list (#24): the
    # revision replaces the commits, what they are, and the first commit (lead time's start).
    scenario = Tenant(TENANT, WORKSPACE)
    revision = scenario.merged(1, ALICE, "feature/1", hours(2.5), "S1", ["b2"], hours(6), "listed")
    before = await inbox_count(running.conn)
    await publish(running.state, scenario, [revision])
    await settled(running.conn, before, 1)
    revised = (await client.get(f"/v1/change-requests/{one['id']}", params={"scope": SCOPE})).json()
    assert (revised["commit_shas"], revised["commits_source"]) == (["b2"], "listed")
    assert revised["first_commit_at"] == "2026-03-02T10:59:00Z"  # b2's, a minute after b1's
    assert (revised["merged_at"], revised["merge_sha"]) == ("2026-03-02T15:00:00Z", "S1")


async def test_an_incident_names_the_deployment_that_caused_it(
    running: Running,
) -> None:
    client = running.client
    d2 = (await deployments(client))["production@S1"]["id"]

    reply = await client.get("/v1/incidents", params={"scope": SCOPE, "state": "resolved"})

    assert reply.status_code == 200, reply.text
    [incident] = reply.json()["items"]
    assert incident["caused_by_deployment_id"] == d2
    assert (incident["opened_at"], incident["resolved_at"]) == (
        "2026-03-02T16:30:00Z",
        "2026-03-02T17:30:00Z",
    )
    assert (await client.get("/v1/incidents", params={"scope": SCOPE, "state": "open"})).json()[
        "items"
    ] == []
    one = await client.get(f"/v1/incidents/{incident['id']}", params={"scope": SCOPE})
    assert one.json() == incident


async def test_bots_are_left_out_unless_asked_for(
    running: Running,
) -> None:
    client = running.client

    assert sorted(await by_number(client)) == [0, 1, 3]
    assert sorted(await by_number(client, include_bots="true")) == [0, 1, 2, 3]
    builds = await client.get("/v1/builds", params={"scope": SCOPE})
    assert [b["name"] for b in builds.json()["items"]] == ["ci-alice"]
    with_bots = await client.get("/v1/builds", params={"scope": SCOPE, "include_bots": "true"})
    assert sorted(b["name"] for b in with_bots.json()["items"]) == ["ci-alice", "ci-bot"]


async def test_filters_by_author_through_merges_state_repository_and_time(
    running: Running,
) -> None:
    client = running.client

    # #0 was attributed to an id since merged into Alice: it is hers, and shown as hers.
    alices = await by_number(client, author=str(ALICE))
    assert sorted(alices) == [0, 1]
    assert alices[0]["author_developer_id"] == str(ALICE)
    assert sorted(await by_number(client, author=str(ALICE_OLD))) == [0, 1]
    assert sorted(await by_number(client, author=str(BOB))) == [3]
    assert sorted(await by_number(client, state="merged", include_bots="true")) == [0, 1, 2, 3]
    assert await by_number(client, repository="octo-org/other") == {}
    window = {"since": (T0 - timedelta(days=1)).isoformat(), "until": hours(8).isoformat()}
    assert sorted(await by_number(client, **window)) == [1]
    production = await deployments(client, environment="production")
    assert sorted(production) == ["production@A", "production@S1", "production@r2'"]


async def test_lists_page_with_the_cursor_and_answer_csv(
    running: Running,
) -> None:
    client = running.client
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"scope": SCOPE, "include_bots": "true", "limit": 3}
        reply = await client.get(
            "/v1/deployments", params=params | ({"cursor": cursor} if cursor else {})
        )
        assert reply.status_code == 200, reply.text
        seen += [d["id"] for d in reply.json()["items"]]
        pages += 1
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 2 and len(seen) == 4 and len(set(seen)) == 4

    reply = await client.get(
        "/v1/change-requests",
        params={"scope": SCOPE, "limit": 2, "include_bots": "true"},
        headers={"Accept": "text/csv"},
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(rows) == 2 and rows[0]["repository"] == "octo-org/octo-repo"
    assert "X-Next-Cursor" in reply.headers and 'rel="next"' in reply.headers["Link"]


async def test_redelivered_events_change_nothing(
    running: Running,
) -> None:
    """The same envelopes again (the inbox drops them) and copies under new envelope ids
    (an inbox that forgot them): every projected row stays as it was."""
    state, conn = running.state, running.conn

    async def rows() -> dict[str, list[Any]]:
        return {
            table: sorted(map(tuple, await conn.fetch(f"SELECT * FROM insights.{table}")))
            for table in PROJECTIONS
        }

    before_rows = await rows()
    scenario = Tenant(TENANT, WORKSPACE)
    copies = [e.model_copy(update={"id": uuid7()}) for e in running.first]
    before = await inbox_count(conn)
    await publish(state, scenario, running.first + copies)
    await settled(conn, before, len(copies))

    assert await rows() == before_rows
    assert len(before_rows["pushes"]) == 4 and len(before_rows["deployment_changes"]) == 5


async def test_another_tenant_sees_none_of_it(
    running: Running, internal_keys: InternalKeys
) -> None:
    client = running.client
    one = (await by_number(client))[1]
    d2 = (await deployments(client))["production@S1"]["id"]
    other = {
        "Authorization": "Bearer "
        + internal_keys.signer.mint(
            service="insights", subject="u2", role="tenant_admin", tenant_id=OTHER_TENANT
        )
    }

    for path in ("/v1/change-requests", "/v1/deployments", "/v1/incidents", "/v1/builds"):
        reply = await client.get(
            path, params={"scope": SCOPE, "include_bots": "true"}, headers=other
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["items"] == [], path
    for path in (f"/v1/change-requests/{one['id']}", f"/v1/deployments/{d2}"):
        reply = await client.get(path, params={"scope": SCOPE}, headers=other)
        assert reply.status_code == 404, reply.text
    # The row-level wall too: under the other tenant's setting PostgreSQL shows no row.
    async with running.conn.transaction():
        await running.conn.execute("SET LOCAL ROLE insights_app")
        await running.conn.execute(
            "SELECT set_config('sextant.tenant_id', $1, true)", str(OTHER_TENANT)
        )
        assert await running.conn.fetchval("SELECT count(*) FROM insights.change_requests") == 0


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("/v1/change-requests", {"state": "reopened"}, 422, "state"),
        ("/v1/change-requests", {"author": "alice"}, 422, "author"),
        ("/v1/change-requests", {"limit": "0"}, 422, "limit"),
        ("/v1/change-requests", {"cursor": "not-a-cursor"}, 400, "cursor"),
        ("/v1/deployments", {"since": "2026-03-02"}, 422, "since"),
        (
            "/v1/deployments",
            {"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"},
            400,
            "since",
        ),
        ("/v1/builds", {"status": "green"}, 422, "status"),
        ("/v1/builds", {"branch": "main\x00"}, 422, "branch"),
        ("/v1/deployments", {"environment": "x" * 201}, 422, "environment"),
        ("/v1/incidents", {"scope": "team:1"}, 400, "scope"),
        ("/v1/change-requests/not-a-uuid", {}, 422, "change_request_id"),
        (f"/v1/deployments/{UUID(int=7)}", {}, 404, str(UUID(int=7))),
    ],
)
async def test_bad_input_is_a_problem_naming_the_parameter(
    running: Running, path: str, params: dict[str, str], status: int, named: str
) -> None:
    reply = await running.client.get(path, params={"scope": SCOPE, **params})

    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert named in reply.text


async def test_a_poison_event_is_dead_lettered_and_its_key_keeps_flowing(
    running: Running,
) -> None:
    state, conn = running.state, running.conn
    scenario = Tenant(TENANT, WORKSPACE)
    poison = scenario.deployed("D-bad", "X1", hours(20))
    poison.data["original"].pop("sha")  # a deployment without its SHA cannot be projected
    after = scenario.deployed("D-bad", "X1", hours(21))
    dlq = state.bus.consumer("insights-test-dlq", [f"{ACTIVITY_ATTRIBUTED.name}.dlq"])
    await dlq.start()
    try:
        before = await inbox_count(conn)
        await publish(state, scenario, [poison, after])
        await settled(conn, before, 1)
        dead: list[Any] = []

        async def dead_lettered() -> bool:
            for batch in (await dlq.poll(100, timeout=0.2)).values():
                dead.extend(batch)
            return any(dict(r.headers).get("sextant_error") for r in dead)

        await until_true(dead_lettered)
    finally:
        await dlq.stop()
    deployed = await deployments(running.client)
    assert deployed["production@X1"]["succeeded_at"] == "2026-03-03T06:00:00Z"


HOSTILE = [
    "",
    "\x00",
    "'; DROP TABLE insights.deployments; --",
    "x" * 5000,
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "-1",
    "NaN",
    "\U0001f680",
]
PARAMETERS = {
    "/v1/change-requests": ["state", "author", "repository", "since", "until", "limit", "cursor"],
    "/v1/deployments": ["environment", "production", "status", "repository", "since", "until"],
    "/v1/incidents": ["state", "severity", "service", "since", "until", "include_bots"],
    "/v1/builds": ["status", "repository", "branch", "since", "until", "include_bots"],
}


async def test_no_value_of_any_parameter_gets_a_server_error(running: Running) -> None:
    answered: set[int] = set()
    for path, names in PARAMETERS.items():
        for name in ["scope", *names]:
            for value in HOSTILE:
                params = {"scope": SCOPE, name: value}
                reply = await running.client.get(path, params=params)
                assert reply.status_code < 500, (path, name, value, reply.text)
                if reply.status_code >= 400:
                    assert reply.headers["content-type"].startswith("application/problem+json")
                answered.add(reply.status_code)
    assert answered == {200, 400, 422}

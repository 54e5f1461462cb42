"""Quality gates through the real service: attributed events over the real bus into the
projections, policies and evaluations over HTTP, evidence and audit in the outbox.

One service and database for the module (the flows are one story, told in order):

    #7 by Alice, head feature/PROJ-7-retry, commits a1a1…, a2a2…, merged as 9f9f0001;
    CI green on 9f9f0001. Policy: one review, a work-item key, builds green, no SEV2.
    #8 by Alice, open, approved by Bob, head pushed to b2b2…, no build yet.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import (
    BuildFinished,
    ChangeRequest,
    ChangeRequestMerged,
    ChangeRequestOpened,
    Commit,
    CommitsPushed,
    IncidentOpened,
    IncidentResolved,
    ReviewSubmitted,
)
from sextant.contracts.events.common import SourceRef
from sextant.contracts.topics import CONFIG, GATES
from sextant.insights.gates.db import gate_evaluations, latest_answer, store_evaluation
from sextant.insights.gates.service import reevaluate
from sextant.insights.handlers import OUTBOX
from sextant.insights.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .scenario import ACTORS, ALICE, BOB, REPO, SOURCE, T0, Tenant, hours
from .test_read_api import inbox_count, publish, settled, until_true

TENANT, OTHER_TENANT = uuid7(), uuid7()
WORKSPACE = uuid7()
SCOPE = f"workspace:{WORKSPACE}"
MERGE_SHA, HEAD_SHA = "9f9f0001", "b2b2b2b2"
POLICY = {
    "rules": {
        "reviews": {"minimum": 1},
        "work_item": {},
        "builds": {},
        "incidents": {"severity_at_least": "SEV2"},
    }
}


def change(number: int, head: str) -> ChangeRequest:
    return ChangeRequest(
        source=SourceRef(kind="github", source_id=SOURCE, external_id=f"pr-{number}"),
        repository=REPO,
        number=number,
        title=f"Retry checkout {number}",
        author=ACTORS[ALICE],
        base_branch="main",
        head_branch=head,
        created_at=T0,
    )


def history(scenario: Tenant) -> list[Envelope]:
    author = {"change_request.author": ALICE}
    seven, eight = change(7, "feature/PROJ-7-retry"), change(8, "feature/PROJ-8")
    pushed = [
        (seven.head_branch, None, ["a1a1a1a1", "a2a2a2a2"]),
        (eight.head_branch, None, [HEAD_SHA]),
    ]
    events = [
        scenario.attributed(
            ChangeRequestOpened(change_request=seven, occurred_at=T0), "pr-7", author
        ),
        scenario.attributed(
            ChangeRequestOpened(change_request=eight, occurred_at=T0), "pr-8", author
        ),
    ]
    for branch, before, shas in pushed:
        event = CommitsPushed(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=f"push-{shas[-1]}"),
            repository=REPO,
            branch=branch,
            before_sha=before,
            after_sha=shas[-1],
            commits=[
                Commit(sha=s, title=s, author=ACTORS[ALICE], authored_at=hours(1)) for s in shas
            ],
            occurred_at=hours(1),
        )
        events.append(scenario.attributed(event, f"repo-r1-{branch}"))
    merged = ChangeRequestMerged(
        change_request=seven,
        merge_sha=MERGE_SHA,
        commit_shas=["a1a1a1a1", "a2a2a2a2"],
        merged_at=hours(3),
    )
    built = BuildFinished(
        source=SourceRef(kind="github", source_id=SOURCE, external_id="ci-1"),
        repository=REPO,
        name="ci",
        status="success",
        sha=MERGE_SHA,
        branch="main",
        finished_at=hours(3.2),
    )
    events += [
        scenario.attributed(merged, "pr-7", author),
        scenario.attributed(built, "build-ci-1"),
        approval(scenario, 8, eight.head_branch),
    ]
    return events


def approval(scenario: Tenant, number: int = 7, head: str = "feature/PROJ-7-retry") -> Envelope:
    event = ReviewSubmitted(
        change_request=change(number, head),
        review_id=f"rev-{number}-bob",
        reviewer=ACTORS[BOB],
        state="approved",
        occurred_at=hours(4),
    )
    people = {"change_request.author": ALICE, "reviewer": BOB}
    return scenario.attributed(event, f"pr-{number}", people)


@dataclass
class Gates:
    client: httpx.AsyncClient
    conn: asyncpg.Connection
    state: Any
    tokens: dict[str, str]
    reader: Any
    seen: dict[str, tuple[str, dict[str, Any]]]

    async def published(self, event_type: str, count: int) -> list[tuple[str, dict[str, Any]]]:
        """The first ``count`` events of ``event_type`` on sextant.gates / sextant.config,
        as (ce_id, data), waiting for the relay to publish them (a record polled again,
        never committed, is kept once)."""

        async def arrived() -> list[tuple[str, dict[str, Any]]]:
            for batch in (await self.reader.poll(100, timeout=0.2)).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers}
                    data = json.loads(record.value)
                    self.seen[headers["ce_id"]] = (headers["ce_type"], data)
            found = [(i, d) for i, (t, d) in self.seen.items() if t == event_type]
            return found if len(found) >= count else []

        found: list[tuple[str, dict[str, Any]]] = await until_true(arrived)
        return found

    async def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        params = {"scope": SCOPE, **kwargs.pop("params", {})}
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return await self.client.request(method, path, params=params, headers=headers, **kwargs)

    async def evaluate(self, who: str = "ci", **body: Any) -> httpx.Response:
        asked = {"repository": REPO.full_name, "environment": "production", **body}
        return await self.call("POST", "/v1/gates/evaluate", who, json=asked)


@pytest.fixture(scope="module")
async def database(postgres_url: str) -> AsyncIterator[str]:
    """One database for the module's story (the plugin's is per test)."""
    name = f"t_gates_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture(scope="module")
async def gates(database: str, internal_keys: InternalKeys) -> AsyncIterator[Gates]:
    async with running_service(SPEC, service_settings(database, internal_keys)) as (
        client,
        state,
    ):
        conn = await asyncpg.connect(plain_dsn(database))
        reader = state.bus.consumer("gates-test-reader", [GATES.name, CONFIG.name])
        await reader.start()
        try:
            scenario = Tenant(TENANT, WORKSPACE)
            before = await inbox_count(conn)
            events = history(scenario)
            await publish(state, scenario, events)
            await settled(conn, before, len(events))

            def mint(role: Any, tenant: UUID, subject: str) -> str:
                return internal_keys.signer.mint(
                    service="insights", subject=subject, role=role, tenant_id=tenant
                )

            tokens = {
                "admin": mint("tenant_admin", TENANT, "ada"),
                "member": mint("member", TENANT, "mel"),
                "ci": mint("partner", TENANT, "ci-key"),
                "stranger": mint("tenant_admin", OTHER_TENANT, "eve"),
                "platform": mint("platform_admin", TENANT, "root@local"),
            }
            gates = Gates(client, conn, state, tokens, reader, {})
            reply = await gates.call("PUT", "/v1/gate-policies", "admin", json=POLICY)
            assert reply.status_code == 200, reply.text
            yield gates
        finally:
            await reader.stop()
            await conn.close()


def outcomes(body: dict[str, Any]) -> dict[str, str]:
    return {r["rule"]: r["outcome"] for r in body["rules"]}


async def test_a_change_merged_without_review_fails_and_a_review_re_evaluates_it_to_pass(
    gates: Gates,
) -> None:
    first = await gates.evaluate(sha=MERGE_SHA)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["verdict"] == "fail"
    assert outcomes(body) == {
        "reviews": "fail",
        "work_item": "pass",
        "builds": "pass",
        "incidents": "pass",
    }
    by_rule = {r["rule"]: r for r in body["rules"]}
    assert by_rule["reviews"]["reason"] == "0 approving review(s) of the 1 required"
    assert by_rule["work_item"]["facts"] == ["work_item:PROJ-7"]
    assert body["policy_version"] == 1 and body["requested_by"] == "ci-key"

    again = await gates.evaluate(sha=MERGE_SHA)
    assert again.status_code == 200 and again.json()["id"] == body["id"]

    before = await inbox_count(gates.conn)
    scenario = Tenant(TENANT, WORKSPACE)
    await publish(gates.state, scenario, [approval(scenario)])
    await settled(gates.conn, before, 1)

    # the review's batch asked the held-up question again: a pass, with nobody asking
    listed = await gates.call(
        "GET", "/v1/gates/evaluations", "member", params={"sha": MERGE_SHA, "verdict": "pass"}
    )
    [second] = listed.json()["items"]
    assert second["requested_by"] == "sextant:re-evaluation"
    assert second["id"] != body["id"]
    assert {r["rule"]: r["facts"] for r in second["rules"]}["reviews"] == ["review:rev-7-bob"]
    asked = await gates.evaluate(sha=MERGE_SHA)  # the pipeline's retry: the same answer
    assert asked.status_code == 200 and asked.json()["id"] == second["id"]

    evidence = await gates.published("sextant.gates.evaluated.v1", 2)
    verdicts = {i: d["verdict"] for i, d in evidence}
    assert verdicts[body["id"]] == "fail" and verdicts[second["id"]] == "pass"


async def test_an_open_change_without_a_build_is_unknown_until_its_build_arrives(
    gates: Gates,
) -> None:
    reply = await gates.evaluate(sha=HEAD_SHA)
    assert reply.status_code == 201, reply.text
    assert reply.json()["verdict"] == "unknown"
    assert outcomes(reply.json())["builds"] == "unknown"
    change_id = reply.json()["change_request_id"]
    by_change = await gates.evaluate(change_request=change_id)
    assert by_change.status_code == 200, by_change.text  # the same SHA, the same answer
    assert by_change.json()["sha"] == HEAD_SHA

    built = BuildFinished(
        source=SourceRef(kind="github", source_id=SOURCE, external_id="ci-8"),
        repository=REPO,
        name="ci",
        status="success",
        sha=HEAD_SHA,
        branch="feature/PROJ-8",
        finished_at=hours(5),
    )
    scenario = Tenant(TENANT, WORKSPACE)
    before = await inbox_count(gates.conn)
    await publish(gates.state, scenario, [scenario.attributed(built, "build-ci-8")])
    await settled(gates.conn, before, 1)
    listed = await gates.call(
        "GET", "/v1/gates/evaluations", "member", params={"sha": HEAD_SHA, "verdict": "pass"}
    )
    [green] = listed.json()["items"]  # the build re-evaluated the held-up question
    assert green["requested_by"] == "sextant:re-evaluation"
    assert outcomes(green)["builds"] == "pass"


async def test_evaluations_are_listed_and_paged(gates: Gates) -> None:
    await gates.evaluate(sha=MERGE_SHA)
    reply = await gates.call(
        "GET", "/v1/gates/evaluations", "member", params={"sha": MERGE_SHA, "limit": 1}
    )
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await gates.call(
        "GET",
        "/v1/gates/evaluations",
        "member",
        params={"sha": MERGE_SHA, "cursor": page["next_cursor"]},
    )
    verdicts = [page["items"][0]["verdict"]] + [i["verdict"] for i in rest.json()["items"]]
    assert sorted(verdicts) == ["fail", "pass"]


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"sha": "deadbeef"}, 404, "sha"),
        ({"sha": MERGE_SHA, "repository": "octo-org/nope"}, 404, "repository"),
        ({"change_request": "0190f5c2-0000-7000-8000-000000000000"}, 404, "change_request"),
        ({"sha": "not-a-sha"}, 422, "sha"),
        ({}, 422, "give sha or change_request"),
        ({"sha": MERGE_SHA, "environment": ""}, 422, "environment"),
    ],
)
async def test_an_unknown_or_bad_target_is_a_problem_naming_it(
    gates: Gates, body: dict[str, Any], status: int, named: str
) -> None:
    reply = await gates.evaluate(**body)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert named in reply.text


async def test_an_override_is_role_restricted_flagged_and_audited(gates: Gates) -> None:
    failed = await gates.call("GET", "/v1/gates/evaluations", "member", params={"verdict": "fail"})
    evaluation_id = failed.json()["items"][0]["id"]
    path = f"/v1/gates/evaluations/{evaluation_id}/override"
    reason = {"reason": "hotfix for the checkout outage, approved on the bridge call"}

    refused = await gates.call("POST", path, "member", json=reason)
    assert refused.status_code == 403, refused.text
    assert "tenant_admin" in refused.json()["detail"]

    done = await gates.call("POST", path, "admin", json=reason)
    assert done.status_code == 200, done.text
    assert done.json()["override"]["by"] == "ada"
    assert done.json()["override"]["reason"] == reason["reason"]

    twice = await gates.call("POST", path, "admin", json=reason)
    assert twice.status_code == 409, twice.text
    passed = await gates.call("GET", "/v1/gates/evaluations", "member", params={"verdict": "pass"})
    not_failed = f"/v1/gates/evaluations/{passed.json()['items'][0]['id']}/override"
    assert (await gates.call("POST", not_failed, "admin", json=reason)).status_code == 409

    overridden = await gates.published("sextant.gates.overridden.v1", 1)
    assert [d["evaluation_id"] for _, d in overridden] == [evaluation_id]
    audited = [
        d
        for _, d in await gates.published("sextant.config.changed.v1", 2)
        if d["action"] == "gates.override"
    ]
    assert [(a["actor"], a["target_id"], a["after"]["reason"]) for a in audited] == [
        ("ada", evaluation_id, reason["reason"])
    ]


async def test_another_tenant_can_neither_evaluate_nor_read_these_gates(gates: Gates) -> None:
    listed = await gates.call("GET", "/v1/gates/evaluations", "member")
    evaluation_id = listed.json()["items"][0]["id"]
    assert (await gates.evaluate("stranger", sha=MERGE_SHA)).status_code == 404
    mine = await gates.call("GET", f"/v1/gates/evaluations/{evaluation_id}", "member")
    assert mine.status_code == 200
    theirs = await gates.call("GET", f"/v1/gates/evaluations/{evaluation_id}", "stranger")
    assert theirs.status_code == 404
    assert (await gates.call("GET", "/v1/gates/evaluations", "stranger")).json()["items"] == []
    override = await gates.call(
        "POST",
        f"/v1/gates/evaluations/{evaluation_id}/override",
        "stranger",
        json={"reason": "let me through please"},
    )
    assert override.status_code == 404
    policy = await gates.call("GET", "/v1/gate-policies", "stranger")
    assert policy.json()["version"] == 0  # the default, not this tenant's version 1


async def test_policies_are_versioned_audited_and_validated(gates: Gates) -> None:
    current = await gates.call("GET", "/v1/gate-policies", "member")
    assert current.status_code == 200 and current.json()["version"] >= 1
    freeze = {
        "windows": [
            {
                "name": "holidays",
                "time_zone": "Europe/Paris",
                "starts": "2026-12-24T00:00:00",
                "ends": "2026-12-27T00:00:00",
            }
        ]
    }
    new = {"rules": {**POLICY["rules"], "freeze": freeze}}
    put = await gates.call("PUT", "/v1/gate-policies", "admin", json=new)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == current.json()["version"] + 1
    older = await gates.call(
        "GET", "/v1/gate-policies", "member", params={"version": current.json()["version"]}
    )
    assert older.json()["rules"]["freeze"] is None
    audited = [
        d
        for _, d in await gates.published("sextant.config.changed.v1", 3)
        if d["action"] == "gates.policy.set"
    ]
    assert audited[-1]["after"]["version"] == put.json()["version"]
    assert audited[-1]["actor"] == "ada"

    member_put = await gates.call("PUT", "/v1/gate-policies", "member", json=new)
    assert member_put.status_code == 403
    bad_zone = {
        "rules": {"freeze": {"windows": [{**freeze["windows"][0], "time_zone": "Mars/Base"}]}}
    }
    refused = await gates.call("PUT", "/v1/gate-policies", "admin", json=bad_zone)
    assert refused.status_code == 422
    assert "rules.freeze.windows.0.time_zone" in refused.json()["detail"]
    bad_severity = {"rules": {"incidents": {"severity_at_least": "urgent"}}}
    refused = await gates.call("PUT", "/v1/gate-policies", "admin", json=bad_severity)
    assert refused.status_code == 422 and "severity_at_least" in refused.json()["detail"]
    missing = await gates.call("GET", "/v1/gate-policies", "member", params={"version": 99})
    assert missing.status_code == 404


async def test_a_platform_admin_acting_on_the_tenant_reads_and_sets_its_policy(
    gates: Gates,
) -> None:
    """The portal's admin is a platform admin acting on one tenant, as for the other
    services' routes: it reads the policy and the evaluations, and sets a new version."""
    current = await gates.call("GET", "/v1/gate-policies", "platform")
    assert current.status_code == 200, current.text
    listed = await gates.call("GET", "/v1/gates/evaluations", "platform")
    assert listed.status_code == 200, listed.text
    assert listed.json() == (await gates.call("GET", "/v1/gates/evaluations", "admin")).json()
    same = {"rules": current.json()["rules"], "override_roles": current.json()["override_roles"]}
    put = await gates.call("PUT", "/v1/gate-policies", "platform", json=same)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == current.json()["version"] + 1
    assert put.json()["created_by"] == "root@local"


class RolledBack(Exception):
    """Raised to roll a test's transaction back."""


async def test_a_flood_of_held_up_questions_does_not_grow_a_batch_s_work(gates: Gates) -> None:
    """Thirty held-up questions of the repository (unknown, each in its own environment,
    one a minute older than the next): a batch asks the five most recent again, no more."""
    now = datetime.now(UTC)
    flood = [
        {
            "tenant_id": TENANT,
            "id": uuid7(),
            "scope": SCOPE,
            "workspace_id": WORKSPACE,
            "repository": REPO.full_name,
            "sha": MERGE_SHA,
            "environment": f"flood-{minutes:02d}",
            "policy_version": 1,
            "digest": "held-up",
            "verdict": "unknown",
            "rules": [],
            "evaluated_at": now - timedelta(minutes=minutes),
            "requested_by": "ci-key",
        }
        for minutes in range(30)
    ]
    e = gate_evaluations
    with pytest.raises(RolledBack):
        async with gates.state.db.transaction(TENANT) as session:
            await session.execute(sa.insert(e), flood)
            asked = await reevaluate(session, OUTBOX, TENANT, WORKSPACE, REPO.external_id, limit=5)
            answered = await session.scalars(
                sa.select(e.c.environment).where(
                    e.c.requested_by == "sextant:re-evaluation",
                    e.c.environment.like("flood-%"),
                )
            )
            assert asked == 5
            assert sorted(answered) == ["flood-00", "flood-01", "flood-02", "flood-03", "flood-04"]
            raise RolledBack


async def test_an_incident_resolved_on_the_service_re_evaluates_its_held_up_question(
    gates: Gates,
) -> None:
    """An open SEV1 on octo-repo's service fails the gate; when it is resolved, the batch
    asks the held-up question again, and it passes with nobody asking."""
    scenario = Tenant(TENANT, WORKSPACE)
    opened_at = datetime.now(UTC) - timedelta(minutes=30)
    source = SourceRef(kind="generic", source_id=SOURCE, external_id="inc-1")
    opened = IncidentOpened(
        source=source, title="checkout down", severity="SEV1", service="octo-repo",
        opened_at=opened_at,
    )  # fmt: skip
    before = await inbox_count(gates.conn)
    events = [approval(scenario), scenario.attributed(opened, "incident-1")]
    await publish(gates.state, scenario, events)
    await settled(gates.conn, before, 2)
    held = await gates.evaluate(sha=MERGE_SHA, environment="incident-drill")  # asked once
    assert held.json()["verdict"] == "fail", held.text
    assert outcomes(held.json())["incidents"] == "fail"
    assert outcomes(held.json())["reviews"] == "pass"

    resolved = IncidentResolved(
        source=source, title="checkout down", severity="SEV1", service="octo-repo",
        opened_at=opened_at, resolved_at=datetime.now(UTC) - timedelta(minutes=1),
    )  # fmt: skip
    before = await inbox_count(gates.conn)
    await publish(gates.state, scenario, [scenario.attributed(resolved, "incident-1")])
    await settled(gates.conn, before, 1)
    listed = await gates.call(
        "GET", "/v1/gates/evaluations", "member", params={"sha": MERGE_SHA, "verdict": "pass"}
    )
    [newest] = [i for i in listed.json()["items"] if i["environment"] == "incident-drill"]
    assert newest["requested_by"] == "sextant:re-evaluation"
    assert outcomes(newest)["incidents"] == "pass"
    assert newest["evaluated_at"] > held.json()["evaluated_at"]


async def test_an_answer_that_returns_after_another_is_stored_again_as_the_latest(
    gates: Gates,
) -> None:
    """fail (a), then pass (b), then the same fail (a) again: the third is a new answer —
    stored, newest — not the first row handed back, which would leave the pass as the
    question's latest answer (and its check run) while the pipeline is told fail."""
    now = datetime.now(UTC)
    question = {
        "tenant_id": TENANT,
        "scope": SCOPE,
        "workspace_id": WORKSPACE,
        "repository": REPO.full_name,
        "sha": MERGE_SHA,
        "environment": "returning-answer",
        "policy_version": 1,
        "rules": [],
        "requested_by": "ci-key",
    }
    e = gate_evaluations
    with pytest.raises(RolledBack):
        async with gates.state.db.transaction(TENANT) as session:
            for digest, verdict, minutes in (("a", "fail", 2), ("b", "pass", 1)):
                await session.execute(
                    sa.insert(e).values(
                        **question, id=uuid7(), digest=digest, verdict=verdict,
                        evaluated_at=now - timedelta(minutes=minutes),
                    )
                )  # fmt: skip
            again = {**question, "id": uuid7(), "digest": "a", "verdict": "fail"}
            stored = await store_evaluation(session, {**again, "evaluated_at": now})
            same = {**question, "id": uuid7(), "digest": "a", "verdict": "fail"}
            repeated = await store_evaluation(session, {**same, "evaluated_at": now})
            newest = await latest_answer(session, question)
            assert stored is not None and stored.id == again["id"]
            assert repeated is None  # the latest answer already says exactly this
            assert newest is not None and newest.id == again["id"]
            assert newest.verdict == "fail"
            raise RolledBack


async def test_a_gate_asked_while_its_repository_waits_for_the_worker_reads_the_new_facts(
    gates: Gates,
) -> None:
    """Gates read only facts a batch writes (reviews, builds, deployments, incidents, change
    heads), never a column the worker derives: asked while the review's repository still
    waits in the derivation queue, the answer already counts the review."""
    scenario = Tenant(TENANT, WORKSPACE)
    nine = change(9, "feature/PROJ-9")
    pushed = CommitsPushed(
        source=SourceRef(kind="github", source_id=SOURCE, external_id="push-c9c9c9c9"),
        repository=REPO,
        branch=nine.head_branch,
        after_sha="c9c9c9c9",
        commits=[Commit(sha="c9c9c9c9", title="c9", author=ACTORS[ALICE], authored_at=hours(1))],
        occurred_at=hours(1),
    )
    opened = ChangeRequestOpened(change_request=nine, occurred_at=T0)
    events = [
        scenario.attributed(opened, "pr-9", {"change_request.author": ALICE}),
        scenario.attributed(pushed, "repo-r1-feature/PROJ-9"),
    ]
    before = await inbox_count(gates.conn)
    await publish(gates.state, scenario, events)
    await settled(gates.conn, before, len(events))
    first = await gates.evaluate(sha="c9c9c9c9")
    assert outcomes(first.json())["reviews"] == "fail"

    worker_lock = f"SELECT pg_advisory_lock(hashtextextended('insights/day-worker/{TENANT}', 0))"
    await gates.conn.execute(worker_lock)  # the worker's rounds of the tenant wait
    try:
        before = await inbox_count(gates.conn)
        await publish(gates.state, scenario, [approval(scenario, 9, "feature/PROJ-9")])
        await until_true(lambda: _projected(gates.conn, before))
        waiting = await gates.conn.fetchval(
            "SELECT count(*) FROM insights.derivation_queue WHERE tenant_id = $1"
            " AND repository_id = $2",
            TENANT,
            REPO.external_id,
        )
        assert waiting >= 1  # the repository is not derived yet
        asked = await gates.evaluate(sha="c9c9c9c9")
        assert asked.status_code == 201, asked.text
        assert outcomes(asked.json())["reviews"] == "pass"
    finally:
        await gates.conn.execute(worker_lock.replace("pg_advisory_lock", "pg_advisory_unlock"))
    await settled(gates.conn, before, 1)


async def _projected(conn: asyncpg.Connection, before: int) -> bool:
    return await inbox_count(conn) > before

"""Team-health suggestions through the real service and database, end to end: a run asked
over HTTP is carried out by the worker, its suggestion listed, judged, counted, and not
made again within the cooldown; events and the notification staged in the outbox.

The workspace's history is written into the projections directly (the projections' own
tests cover how events land there): Alice wrote all twelve of the year's changes to
octo/billing, a knowledge silo of one author (high severity); Bob was given an item after
forecast flagged one of his stale (the flag comes over sextant.forecast, as forecast sends
it, and so does its dismissal).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import (
    StaleFlagDismissed,
    TeamCreated,
    WorkItemFlaggedStale,
)
from sextant.contracts.topics import FORECAST, IDENTITY, INSIGHTS, NOTIFICATIONS, entity_key
from sextant.insights.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .test_read_api import inbox_count, settled, until_true

TENANT, OTHER = uuid7(), uuid7()
WORKSPACE = uuid7()
SCOPE = f"workspace:{WORKSPACE}"
ALICE, BOB = uuid7(), uuid7()


async def seed_silo(conn: asyncpg.Connection, now: datetime) -> None:
    for n in range(12):
        opened = now - timedelta(days=10 + n * 20)
        await conn.execute(
            """INSERT INTO insights.change_requests (tenant_id, id, workspace_id, source_kind,
               external_id, repository_id, repository, number, title, author_developer_id,
               author_is_bot, base_branch, head_branch, draft, opened_at, snapshot_at,
               first_review_at, merged_at)
               VALUES ($1, $2, $3, 'github', $4, 'r1', 'octo/billing', $5, 'Change', $6,
               false, 'main', 'f', false, $7, $7, $8, $9)""",
            TENANT,
            uuid7(),
            WORKSPACE,
            f"pr-{n}",
            n,
            ALICE,
            opened,
            opened + timedelta(hours=2),
            opened + timedelta(hours=20),
        )


async def seed_stale(conn: asyncpg.Connection, state: Any, now: datetime) -> None:
    """Bob holds T-1 in progress since 30 days; forecast flags it stale 5 days ago; T-2 is
    given him 2 days ago (assigned while stale)."""
    for key, category, at in (("T-1", "in_progress", 30), ("T-2", "todo", 2)):
        moment = now - timedelta(days=at)
        await conn.execute(
            """INSERT INTO insights.work_items (tenant_id, id, workspace_id, key,
               assignee_developer_id, category, category_at, started_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            TENANT,
            uuid7(),
            WORKSPACE,
            key,
            BOB,
            category,
            moment,
            moment if category == "in_progress" else None,
        )
    flagged = WorkItemFlaggedStale(
        work_item_key="T-1",
        state="In Review",
        age_days=30,
        percentile=97,
        score=2.1,
        explanation="older than 97 % of items that left In Review",
    )
    await forecast_event(conn, state, flagged, now - timedelta(days=5))


async def forecast_event(conn: asyncpg.Connection, state: Any, event: Any, at: datetime) -> None:
    """Publish ``event`` on sextant.forecast as the forecast service would, and wait for it."""
    before = await inbox_count(conn)
    envelope = Envelope.wrap(
        event, source="/sextant/forecast", tenantid=TENANT, workspaceid=WORKSPACE, subject="T-1"
    ).model_copy(update={"time": at})
    key = entity_key(TENANT, WORKSPACE, "work_item:T-1")
    await state.bus.publish([record_for(envelope, FORECAST.name, key)])
    await settled(conn, before, 1)


async def published(
    reader: Any, seen: dict[str, tuple[str, Any]], event_type: str, count: int = 1
) -> list[Any]:
    """The data of the ``event_type`` events the relay published, once ``count`` came (by
    event id: a record polled again, never committed, is kept once)."""

    async def arrived() -> Any:
        for batch in (await reader.poll(100, timeout=0.2)).values():
            for record in batch:
                headers = {k: v.decode() for k, v in record.headers}
                seen[headers["ce_id"]] = (headers["ce_type"], json.loads(record.value))
        found = [data for kind, data in seen.values() if kind == event_type]
        return found if len(found) >= count else None

    found: list[Any] = await until_true(arrived)
    return found


async def finished(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> Any:
    async def done() -> Any:
        body = (await client.get(location, headers=headers)).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return await until_true(done)


async def test_a_run_suggests_feedback_teaches_and_the_cooldown_holds(
    database_url: str, internal_keys: InternalKeys
) -> None:
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        conn = await asyncpg.connect(plain_dsn(database_url))
        reader = state.bus.consumer("health-test-reader", [INSIGHTS.name, NOTIFICATIONS.name])
        await reader.start()
        seen: dict[str, tuple[str, Any]] = {}
        try:
            await seed_silo(conn, datetime.now(UTC))
            await seed_stale(conn, state, datetime.now(UTC))

            def auth(role: Any, tenant: UUID = TENANT) -> dict[str, str]:
                token = internal_keys.signer.mint(
                    service="insights", subject=f"{role}-1", role=role, tenant_id=tenant
                )
                return {"Authorization": f"Bearer {token}"}

            lead, member, stranger = auth("manager"), auth("member"), auth("manager", OTHER)
            params = {"scope": SCOPE}

            denied = await client.post("/v1/suggestions/runs", params=params, headers=member)
            assert denied.status_code == 403
            nowhere = {"team_id": str(uuid7())}
            no_team = await client.post(
                "/v1/suggestions/runs", params=params, headers=lead, json=nowhere
            )
            assert no_team.status_code == 404 and no_team.json()["parameter"] == "team_id"

            started = await client.post(
                "/v1/suggestions/runs", params=params, headers=lead, json={}
            )
            assert started.status_code == 202, started.text
            assert started.json()["status"] == "queued"
            run = await finished(client, started.headers["Location"], lead)
            assert run["status"] == "succeeded", run
            assert run["progress"] == 100
            assert run["result"] == {
                "findings": 2,
                "suggestions": 2,
                "held_back": 0,
                "written_by": "template",
                "fallback": "no_api_key",
                "dropped": {},
                "tokens": 0,
                "by_kind": {"assigned_while_stale": 1, "knowledge_silo": 1},
            }

            listed = (await client.get("/v1/suggestions", params=params, headers=member)).json()
            [silo, stale] = listed["items"]  # ranked: high 3 x 0.5, then medium 2 x 0.5
            assert (stale["kind"], stale["rank"]) == ("assigned_while_stale", 1.0)
            # pseudonyms are the run's, in the detectors' order: Bob (stale) P1, Alice P2
            assert stale["people"] == [{"alias": "P1", "developer_id": str(BOB)}]
            assert stale["findings"][0]["evidence"] == {
                "stale_items": 1,
                "assigned_since_stale": 1,
            }
            paged = await client.get(
                "/v1/suggestions", params={**params, "limit": 1}, headers=member
            )
            rest = await client.get(
                "/v1/suggestions",
                params={**params, "limit": 1, "cursor": paged.json()["next_cursor"]},
                headers=member,
            )
            assert [i["id"] for i in rest.json()["items"]] == [stale["id"]]
            assert (silo["kind"], silo["severity"], silo["area"]) == (
                "knowledge_silo",
                "high",
                "octo/billing",
            )
            assert silo["written_by"] == "template"
            assert silo["people"] == [{"alias": "P2", "developer_id": str(ALICE)}]
            assert silo["title"] == "P2 wrote 100 % of octo/billing's changes this year"
            assert silo["findings"][0]["evidence"] == {"author_share": 1.0, "changes": 12}
            assert silo["rank"] == 1.5  # high (3) x the prior's 0.5

            made = await published(reader, seen, "sextant.insights.suggestion.created.v1", 2)
            [created] = [e for e in made if e["suggestion_id"] == silo["id"]]
            assert (created["generator"], created["kind"]) == ("deterministic", "knowledge_silo")
            assert created["people"] == [str(ALICE)]
            [notice] = await published(reader, seen, "sextant.notifications.raised.v1")
            assert notice["title"] == f"Team health: {silo['title']}"
            assert notice["raised_by"] == "insights"

            feedback = f"/v1/suggestions/{silo['id']}/feedback"
            theirs = await client.post(
                feedback,
                params={"scope": f"workspace:{uuid7()}"},
                headers=stranger,
                json={"verdict": "reject"},
            )
            assert theirs.status_code == 404
            bad = await client.post(
                feedback, params=params, headers=lead, json={"verdict": "maybe"}
            )
            assert bad.status_code == 422 and "verdict" in bad.text
            rejected = await client.post(
                feedback,
                params=params,
                headers=lead,
                json={"verdict": "reject", "reason": "Alice owns billing by design"},
            )
            assert rejected.status_code == 200, rejected.text
            assert rejected.json()["status"] == "rejected"
            again = await client.post(
                feedback, params=params, headers=lead, json={"verdict": "confirm"}
            )
            assert again.status_code == 409
            [verdict] = await published(
                reader, seen, "sextant.insights.suggestion.feedback_recorded.v1"
            )
            assert (verdict["verdict"], verdict["comment"], verdict["kind"]) == (
                "rejected",
                "Alice owns billing by design",
                "knowledge_silo",
            )

            stats = (
                await client.get("/v1/suggestions/stats", params=params, headers=member)
            ).json()
            assert stats["kinds"] == [
                {
                    "kind": "assigned_while_stale",
                    "confirmed": 0,
                    "rejected": 0,
                    "snoozed": 0,
                    "open": 1,
                    "acceptance_rate": None,
                    "expected_acceptance": 0.5,
                },
                {
                    "kind": "knowledge_silo",
                    "confirmed": 0,
                    "rejected": 1,
                    "snoozed": 0,
                    "open": 0,
                    "acceptance_rate": 0.0,
                    "expected_acceptance": round(1 / 3, 6),  # Beta(1, 1 + 1)
                },
            ]

            # the same silo again within the cooldown: found, not suggested
            second = await client.post("/v1/suggestions/runs", params=params, headers=lead)
            run = await finished(client, second.headers["Location"], lead)
            assert run["result"]["findings"] == 2
            assert (run["result"]["suggestions"], run["result"]["held_back"]) == (0, 2)

            # forecast's dismissal clears the flag: the stale finding goes
            await forecast_event(
                conn,
                state,
                StaleFlagDismissed(work_item_key="T-1", dismissed_by="mia"),
                datetime.now(UTC),
            )
            third = await client.post("/v1/suggestions/runs", params=params, headers=lead)
            run = await finished(client, third.headers["Location"], lead)
            assert run["result"]["by_kind"] == {"knowledge_silo": 1}

            # the weekly schedule: due a week on, taken once
            worker = state.extras["health_worker"]
            later = datetime.now(UTC) + timedelta(days=8)
            assert await worker.schedule_due(later) == 1
            assert await worker.schedule_due(later) == 0
            trigger = await conn.fetchval(
                "SELECT trigger FROM insights.health_runs ORDER BY created_at DESC LIMIT 1"
            )
            assert trigger == "schedule"

            # a team's run joins the schedule too: its own weekly run, next to the workspace's
            team = uuid7()
            created = Envelope.wrap(
                TeamCreated(team_id=team, name="Payments"),
                source="/sextant/identity",
                tenantid=TENANT,
                subject=f"team:{team}",
            )
            before = await inbox_count(conn)
            key = entity_key(TENANT, TENANT, f"team:{team}")
            await state.bus.publish([record_for(created, IDENTITY.name, key)])
            await settled(conn, before, 1)
            for_team = await client.post(
                "/v1/suggestions/runs", params=params, headers=lead, json={"team_id": str(team)}
            )
            run = await finished(client, for_team.headers["Location"], lead)
            assert run["team_id"] == str(team) and run["result"]["findings"] == 0  # no members
            much_later = later + timedelta(days=8)
            assert await worker.schedule_due(much_later) == 2  # the workspace's and the team's
            teams_run = await conn.fetch(
                "SELECT team_id FROM insights.health_runs WHERE trigger = 'schedule'"
                " ORDER BY created_at DESC LIMIT 2"
            )
            assert {r["team_id"] for r in teams_run} == {None, team}
        finally:
            await reader.stop()
            await conn.close()

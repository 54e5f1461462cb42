"""Retention policies and legal holds through the archive's HTTP API on real PostgreSQL:
defaults, changes, validation naming the field, paging, release; every change audited
(ConfigChanged) and every hold announced (LegalHoldChanged), as the bus delivered them."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import asyncpg

from sextant.archive.main import SPEC
from sextant.contracts import uuid7
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys


def headers(keys: InternalKeys, tenant: UUID, role: str = "tenant_admin") -> dict[str, str]:
    token = keys.signer.mint(service="archive", subject="alice", role=role, tenant_id=tenant)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


async def delivered(database_url: str, tenant: UUID, count: int) -> list[dict[str, Any]]:
    """The tenant's events the archive consumed (its own included), once ``count`` are in."""
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(30):
            while True:
                rows = await conn.fetch(
                    "SELECT type, data FROM archive.staged_events WHERE tenant_id = $1"
                    " ORDER BY time, event_id",
                    tenant,
                )
                if len(rows) >= count:
                    return [{"type": r["type"], **json.loads(r["data"])} for r in rows]
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_retention_policies_start_at_defaults_change_audited_and_refuse_bad_periods(
    database_url: str, internal_keys: InternalKeys
) -> None:
    tenant = uuid7()
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        admin = headers(internal_keys, tenant)
        start = await client.get("/v1/retention-policies", headers=admin)
        assert start.status_code == 200, start.text
        by_class = {p["data_class"]: p for p in start.json()["items"]}
        assert len(by_class) == 9 and all(p["is_default"] for p in by_class.values())
        # the grace of work items deleted in their tool, as long as a soft-deleted workspace's
        assert by_class["deleted_work_items"]["hot_days"] == 30
        assert (by_class["audit_log"]["hot_days"], by_class["audit_log"]["cold_days"]) == (
            365,
            2555,
        )
        assert (
            by_class["raw_deliveries"]["hot_days"],
            by_class["raw_deliveries"]["cold_days"],
        ) == (30, 365)

        change = {
            "policies": [{"data_class": "activity_events", "hot_days": 30, "cold_days": 3650}]
        }
        changed = await client.put("/v1/retention-policies", json=change, headers=admin)
        assert changed.status_code == 200, changed.text
        activity = {p["data_class"]: p for p in changed.json()["items"]}["activity_events"]
        assert (activity["hot_days"], activity["cold_days"], activity["is_default"]) == (
            30,
            3650,
            False,
        )
        assert activity["updated_by"] == "alice"
        again = await client.put("/v1/retention-policies", json=change, headers=admin)
        assert again.status_code == 200  # the same periods again: nothing to audit

        shorter = {"policies": [{"data_class": "audit_log", "hot_days": 400, "cold_days": 100}]}
        refused = await client.put("/v1/retention-policies", json=shorter, headers=admin)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert (
            "cold_days" in refused.json()["detail"] and "hot_days (400)" in refused.json()["detail"]
        )
        unknown = {"policies": [{"data_class": "everything", "hot_days": 1, "cold_days": 1}]}
        assert (
            "data_class"
            in (await client.put("/v1/retention-policies", json=unknown, headers=admin)).json()[
                "detail"
            ]
        )
        twice = {"policies": [change["policies"][0], change["policies"][0]]}
        twice_reply = await client.put("/v1/retention-policies", json=twice, headers=admin)
        assert twice_reply.status_code == 422 and "more than once" in twice_reply.json()["detail"]
        member = await client.get(
            "/v1/retention-policies", headers=headers(internal_keys, tenant, "member")
        )
        assert member.status_code == 403

        audits = [
            e
            for e in await delivered(database_url, tenant, 1)
            if e["type"] == "sextant.config.changed.v1"
        ]
        assert [(a["action"], a["target_id"], a["actor"]) for a in audits] == [
            ("retention_policy.update", "activity_events", "alice")
        ]
        assert audits[0]["before"] == {"hot_days": 90, "cold_days": 730, "is_default": True}
        assert audits[0]["after"] == {"hot_days": 30, "cold_days": 3650, "is_default": False}


async def test_legal_holds_are_placed_listed_by_page_and_released_once_audited_and_announced(
    database_url: str, internal_keys: InternalKeys
) -> None:
    tenant, workspace = uuid7(), uuid7()
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (client, _):
        admin = headers(internal_keys, tenant)
        placed = []
        for scope in ("tenant", f"workspace:{workspace}", f"developer:{uuid7()}"):
            reply = await client.post(
                "/v1/legal-holds",
                json={
                    "scope": scope,
                    "reason": "litigation 2026-17",
                    "starts_at": "2026-01-01T00:00:00Z",
                },
                headers=admin,
            )
            assert reply.status_code == 201, reply.text
            placed.append(reply.json())
        assert placed[1]["scope"] == f"workspace:{workspace}" and placed[1]["active"] is True

        page1 = (await client.get("/v1/legal-holds", params={"limit": 2}, headers=admin)).json()
        page2 = (
            await client.get(
                "/v1/legal-holds",
                params={"limit": 2, "cursor": page1["next_cursor"]},
                headers=admin,
            )
        ).json()
        assert [h["id"] for h in page1["items"] + page2["items"]] == [h["id"] for h in placed]
        assert page2["next_cursor"] is None

        released = await client.post(
            f"/v1/legal-holds/{placed[0]['id']}/release", json={"reason": "settled"}, headers=admin
        )
        assert released.status_code == 200, released.text
        assert released.json()["active"] is False and released.json()["release_reason"] == "settled"
        twice = await client.post(f"/v1/legal-holds/{placed[0]['id']}/release", headers=admin)
        assert twice.status_code == 409
        unknown = await client.post(f"/v1/legal-holds/{uuid7()}/release", headers=admin)
        assert unknown.status_code == 404
        other_tenant = await client.post(
            f"/v1/legal-holds/{placed[1]['id']}/release", headers=headers(internal_keys, uuid7())
        )
        assert other_tenant.status_code == 404
        active = (
            await client.get("/v1/legal-holds", params={"active": "true"}, headers=admin)
        ).json()
        assert [h["id"] for h in active["items"]] == [h["id"] for h in placed[1:]]

        backwards = await client.post(
            "/v1/legal-holds",
            json={
                "scope": "tenant",
                "reason": "x",
                "starts_at": "2026-02-01T00:00:00Z",
                "ends_at": "2026-01-01T00:00:00Z",
            },
            headers=admin,
        )
        assert backwards.status_code == 422 and "ends_at" in backwards.json()["detail"]
        bad_scope = await client.post(
            "/v1/legal-holds", json={"scope": "team:1", "reason": "x"}, headers=admin
        )
        assert bad_scope.status_code == 422 and "scope" in bad_scope.json()["detail"]

        events = await delivered(database_url, tenant, 8)
        announced = [
            (e["active"], e["reason"])
            for e in events
            if e["type"] == "sextant.lifecycle.legal_hold.changed.v1"
        ]
        assert announced == [(True, "litigation 2026-17")] * 3 + [(False, "settled")]
        audited = [e["action"] for e in events if e["type"] == "sextant.config.changed.v1"]
        assert audited == ["legal_hold.place"] * 3 + ["legal_hold.release"]

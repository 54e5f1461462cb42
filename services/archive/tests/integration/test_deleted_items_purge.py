"""Work items deleted in their tool purged once their grace period is over, through the
real bus: the archive asks only once the work items' events are archived and verify; forecast
and insights delete the items (forecast their status moves too) but those a legal hold
covers, answer with their counts, and a released hold lets its items go the same day. A
tenant whose activity object is missing is asked nothing."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from sextant.archive import coldstore
from sextant.archive.deleted_items import request_deleted_items
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import WorkItemDeleted
from sextant.contracts.events.common import SourceRef
from sextant.contracts.topics import ACTIVITY, entity_key
from sextant.forecast.main import SPEC as FORECAST
from sextant.insights.main import SPEC as INSIGHTS
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .test_cold_store import LATER, SETTINGS, admin_of, archive, delivered_of, staged

CREATED = datetime(2026, 3, 1, 9, tzinfo=UTC)
DELETED = datetime(2026, 3, 2, 9, tzinfo=UTC)
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)  # 30 days of grace: cut-off 2026-03-16
CUTOFF = datetime(2026, 3, 16, tzinfo=UTC)


async def seed(
    conn: asyncpg.Connection, tenant: UUID, workspace: UUID, key: str, deleted: bool
) -> None:
    """A work item in forecast's projection (with two status moves) and insights'."""
    gone = DELETED if deleted else None
    await conn.execute(
        "INSERT INTO forecast.work_items (tenant_id, workspace_id, key, source_kind, external_id,"
        " title, item_type, status, status_category, state_since, created_at, deleted_at)"
        " VALUES ($1, $2, $3, 'jira', $3, 'a story', 'story', 'To Do', 'todo', $4, $4, $5)",
        tenant,
        workspace,
        key,
        CREATED,
        gone,
    )
    for to_status, at in (("To Do", CREATED), ("Doing", DELETED)):
        await conn.execute(
            "INSERT INTO forecast.work_item_transitions (tenant_id, workspace_id, key, to_status,"
            " to_category, at, event_id) VALUES ($1, $2, $3, $4, 'todo', $5, $6)",
            tenant,
            workspace,
            key,
            to_status,
            at,
            uuid7(),
        )
    await conn.execute(
        "INSERT INTO insights.work_items (tenant_id, id, workspace_id, key, category, category_at,"
        " deleted_at) VALUES ($1, $2, $3, $4, 'todo', $5, $6)",
        tenant,
        uuid7(),
        workspace,
        key,
        CREATED,
        gone,
    )


async def left(conn: asyncpg.Connection, tenant: UUID) -> dict[str, list[str]]:
    """The tenant's work item keys in forecast and insights, and forecast's moves' keys."""
    found: dict[str, list[str]] = {}
    for name, table in (
        ("forecast", "forecast.work_items"),
        ("moves", "forecast.work_item_transitions"),
        ("insights", "insights.work_items"),
    ):
        rows = await conn.fetch(
            f"SELECT key FROM {table} WHERE tenant_id = $1 ORDER BY key", tenant
        )
        found[name] = [r["key"] for r in rows]
    return found


async def answers(conn: asyncpg.Connection, request: UUID) -> dict[str, int]:
    """Both owners' PurgeDone answers to the request, as the archive recorded them."""
    async with asyncio.timeout(30):
        while True:
            rows = await conn.fetch(
                "SELECT service, data_class, rows_deleted FROM archive.purge_answers"
                " WHERE manifest_id = $1",
                request,
            )
            if len(rows) >= 2:
                assert {r["data_class"] for r in rows} == {"deleted_work_items"}
                return {r["service"]: r["rows_deleted"] for r in rows}
            await asyncio.sleep(0.05)


def deletion(tenant: UUID, workspace: UUID) -> Envelope:
    """A work item's deletion on the activity topic: what the archive copies and verifies."""
    event = WorkItemDeleted(
        source=SourceRef(kind="jira", source_id=uuid7(), external_id="10001"),
        key="WEB-1",
        occurred_at=DELETED,
    )
    envelope = Envelope.wrap(
        event, source="/sextant/ingest", tenantid=tenant, workspaceid=workspace, subject="WEB-1"
    )
    return envelope.model_copy(update={"time": DELETED})


async def test_deleted_items_go_after_their_grace_once_verified_but_not_under_a_hold(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant, lost_tenant, ws, held_ws = uuid7(), uuid7(), uuid7(), uuid7()
    settings = service_settings(database_url, internal_keys)
    store = FolderObjectStore(tmp_path / "objects")
    async with AsyncExitStack() as stack:
        client, state = await stack.enter_async_context(archive(database_url, internal_keys, store))
        for spec in (FORECAST, INSIGHTS):
            await stack.enter_async_context(running_service(spec, settings))
        conn = await asyncpg.connect(plain_dsn(database_url))
        stack.push_async_callback(conn.close)
        await seed(conn, tenant, ws, "WEB-1", deleted=True)
        await seed(conn, tenant, ws, "WEB-2", deleted=False)
        await seed(conn, tenant, held_ws, "OPS-1", deleted=True)
        await seed(conn, lost_tenant, ws, "WEB-1", deleted=True)

        events = [deletion(tenant, ws), deletion(lost_tenant, ws)]
        await state.bus.publish(
            [record_for(e, ACTIVITY.name, entity_key(e.tenantid, ws, "WEB-1")) for e in events]
        )
        await staged(database_url, 2)
        # the deletions wait for their parts: no verified copy of every event yet
        assert await request_deleted_items(state, tenant, NOW) is None
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 2
        await store.delete(
            f"tenant={lost_tenant}/topic=sextant.activity/day=2026-03-02/part-00001.parquet"
        )
        assert await request_deleted_items(state, lost_tenant, NOW) is None
        why = await conn.fetchval(
            "SELECT held_back FROM archive.deleted_item_purges WHERE tenant_id = $1", lost_tenant
        )
        assert why is not None and why.startswith("unverified: ")
        (notice,) = await delivered_of(
            database_url, lost_tenant, "sextant.notifications.raised.v1", 1
        )
        assert notice["audience"] == ["tenant_admin"] and "sextant.activity" in notice["body"]

        headers = admin_of(internal_keys, tenant)
        hold = await client.post(
            "/v1/legal-holds",
            json={"scope": f"workspace:{held_ws}", "reason": "litigation"},
            headers=headers,
        )
        assert hold.status_code == 201, hold.text
        first = await request_deleted_items(state, tenant, NOW)
        assert first is not None
        # WEB-1 and its two moves in forecast, WEB-1 in insights; OPS-1 is held
        assert await answers(conn, first) == {"forecast": 3, "insights": 1}
        assert await left(conn, tenant) == {
            "forecast": ["OPS-1", "WEB-2"],
            "moves": ["OPS-1", "OPS-1", "WEB-2", "WEB-2"],
            "insights": ["OPS-1", "WEB-2"],
        }
        assert await request_deleted_items(state, tenant, NOW) is None  # once a cut-off
        assert (
            await conn.fetchval(
                "SELECT older_than FROM archive.deleted_item_purges WHERE tenant_id = $1", tenant
            )
            == CUTOFF
        )

        await client.post(f"/v1/legal-holds/{hold.json()['id']}/release", headers=headers)
        released = await request_deleted_items(state, tenant, NOW)
        assert released is not None
        assert await answers(conn, released) == {"forecast": 3, "insights": 1}
        assert await left(conn, tenant) == {
            "forecast": ["WEB-2"],
            "moves": ["WEB-2", "WEB-2"],
            "insights": ["WEB-2"],
        }
        assert (await left(conn, lost_tenant))["forecast"] == ["WEB-1"]

"""A soft-deleted workspace purged once its grace period is over, through the real bus:
the archive notes the gateway's announcement, holds back while a legal hold covers the
workspace, then (its events archived and verified) asks every owner to purge it; forecast
and insights delete the workspace's rows (another workspace's stay) and their PurgeDone
answers are recorded against the scope purge. A deleted tenant whose archived copy is
missing is not purged and its admins are told."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from sextant.archive import coldstore, scopes
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import TenantSoftDeleted, WorkspaceSoftDeleted
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.forecast.main import SPEC as FORECAST
from sextant.insights.main import SPEC as INSIGHTS
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .test_cold_store import (
    LATER,
    SETTINGS,
    admin_of,
    archive,
    delivered_of,
    staged,
)

GRACE_END = datetime.now(UTC) - timedelta(minutes=1)  # the grace period is over


async def seed(conn: asyncpg.Connection, tenant: UUID, workspace: UUID, key: str) -> None:
    """A work item of the workspace in forecast's and insights' projections."""
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    await conn.execute(
        "INSERT INTO forecast.work_items (tenant_id, workspace_id, key, source_kind, external_id,"
        " title, item_type, status, status_category, state_since, created_at)"
        " VALUES ($1, $2, $3, 'jira', $3, 'a story', 'story', 'To Do', 'todo', $4, $4)",
        tenant,
        workspace,
        key,
        at,
    )
    await conn.execute(
        "INSERT INTO insights.work_items (tenant_id, id, workspace_id, key, category, category_at)"
        " VALUES ($1, $2, $3, $4, 'todo', $5)",
        tenant,
        uuid7(),
        workspace,
        key,
        at,
    )


async def keys_left(conn: asyncpg.Connection, tenant: UUID) -> dict[str, list[str]]:
    """The tenant's work item keys in forecast and insights."""
    left: dict[str, list[str]] = {}
    for schema in ("forecast", "insights"):
        rows = await conn.fetch(
            f"SELECT key FROM {schema}.work_items WHERE tenant_id = $1 ORDER BY key", tenant
        )
        left[schema] = [r["key"] for r in rows]
    return left


async def answers(conn: asyncpg.Connection, scope_id: UUID, count: int) -> dict[str, int]:
    """The owners' PurgeDone answers the archive recorded, once ``count`` are in."""
    async with asyncio.timeout(30):
        while True:
            rows = await conn.fetch(
                "SELECT service, data_class, rows_deleted FROM archive.purge_answers"
                " WHERE manifest_id = $1",
                scope_id,
            )
            if len(rows) >= count:
                assert {r["data_class"] for r in rows} == {"scope:workspace"}
                return {r["service"]: r["rows_deleted"] for r in rows}
            await asyncio.sleep(0.05)


async def test_a_deleted_workspace_is_purged_everywhere_after_its_grace_but_not_under_a_hold(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant, doomed, kept = uuid7(), uuid7(), uuid7()
    settings = service_settings(database_url, internal_keys)
    store = FolderObjectStore(tmp_path / "objects")
    async with AsyncExitStack() as stack:
        client, state = await stack.enter_async_context(archive(database_url, internal_keys, store))
        for spec in (FORECAST, INSIGHTS):
            await stack.enter_async_context(running_service(spec, settings))
        conn = await asyncpg.connect(plain_dsn(database_url))
        stack.push_async_callback(conn.close)
        await seed(conn, tenant, doomed, "WEB-1")
        await seed(conn, tenant, kept, "API-1")

        deleted = Envelope.wrap(
            WorkspaceSoftDeleted(restorable_until=GRACE_END),
            source="/sextant/gateway",
            tenantid=tenant,
            workspaceid=doomed,
            subject="workspace",
        )
        gone_tenant = uuid7()
        tenant_deleted = Envelope.wrap(
            TenantSoftDeleted(restorable_until=GRACE_END),
            source="/sextant/gateway",
            tenantid=gone_tenant,
            subject="tenant",
        )
        await state.bus.publish(
            [
                record_for(deleted, LIFECYCLE.name, entity_key(tenant, doomed, "workspace")),
                record_for(tenant_deleted, LIFECYCLE.name, entity_key(gone_tenant, None, "tenant")),
            ]
        )
        await staged(database_url, 2)
        # the announcements themselves wait for their parts: no copy of every event yet
        assert await scopes.purge_scopes(state) == []
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 2
        lost = f"tenant={gone_tenant}/topic=sextant.lifecycle/day={tenant_deleted.time:%Y-%m-%d}"
        await store.delete(f"{lost}/part-00001.parquet")

        headers = admin_of(internal_keys, tenant)
        hold = await client.post(
            "/v1/legal-holds",
            json={"scope": f"workspace:{doomed}", "reason": "litigation"},
            headers=headers,
        )
        assert hold.status_code == 201, hold.text
        assert await scopes.purge_scopes(state) == []  # the hold, the missing object
        (notice,) = await delivered_of(
            database_url, gone_tenant, "sextant.notifications.raised.v1", 1
        )
        assert notice["audience"] == ["tenant_admin"] and lost in notice["body"]
        why = await conn.fetchval(
            "SELECT held_back FROM archive.scope_purges WHERE id = $1", deleted.id
        )
        assert why == f"a legal hold on workspace:{doomed} stops it"
        await client.post(f"/v1/legal-holds/{hold.json()['id']}/release", headers=headers)

        assert await scopes.purge_scopes(state) == [deleted.id]
        assert await answers(conn, deleted.id, 2) == {"forecast": 1, "insights": 1}
        assert await keys_left(conn, tenant) == {"forecast": ["API-1"], "insights": ["API-1"]}
        assert await scopes.purge_scopes(state) == []  # requested once

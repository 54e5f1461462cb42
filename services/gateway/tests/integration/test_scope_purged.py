"""The archive's purges reaching the gateway through the bus: a soft-deleted workspace is
marked purged, and restoring it is then a 410 saying so (even within its grace period,
which a purge can only follow when the clocks disagree); a purged tenant leaves no row in
any gateway table but its tombstones, its audit chain gone with a record of the purge in
the platform's chain, and its API key answers 401; the audit log's oldest rows are purged
past a checkpoint (not a row a hold meets), the chain still verifies from it, the purge is
audited, and a kept row tampered with is found."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import (
    ConfigChanged,
    NotificationRaised,
    PurgeHold,
    PurgeRequested,
)
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.db import audit_checkpoints, audit_heads, audit_log, views
from sextant.gateway.domain.audit import PLATFORM_CHAIN
from sextant.gateway.main import create_app
from sextant.gateway.retention import PURGER
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing, scope_purge


async def purged_at(database_url: str, workspace: UUID) -> datetime:
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(30):
            while True:
                at = await conn.fetchval(
                    "SELECT purged_at FROM gateway.workspaces WHERE id = $1", workspace
                )
                if at is not None:
                    return at  # type: ignore[no-any-return]
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def fetch_when(
    database_url: str, query: str, *args: Any, until: Any = bool
) -> list[asyncpg.Record]:
    """The query's rows once ``until(rows)`` holds (the bus delivers in its own time)."""
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(30):
            while not until(rows := await conn.fetch(query, *args)):
                await asyncio.sleep(0.05)
            return rows
    finally:
        await conn.close()


@dataclass
class Gateway:
    """A running gateway with one tenant: the platform admin's and the tenant admin's
    headers."""

    app: FastAPI
    http: httpx.AsyncClient
    platform: dict[str, str]
    tenant: UUID
    admin: dict[str, str]


@pytest.fixture
async def gateway(database_url: str, internal_keys: InternalKeys) -> AsyncIterator[Gateway]:
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    app = create_app(
        service_settings(database_url, internal_keys), upstreams=Upstreams({}), local_issuer=issuer
    )
    async with running_app(app) as http:
        root = issuer.mint(
            subject="root@test", role="platform_admin", tenant_id=None, ttl_seconds=600
        )  # type: ignore[arg-type]
        platform = {"Authorization": f"Bearer {root}"}
        created = await http.post("/v1/tenants", json={"name": "purged"}, headers=platform)
        tenant = UUID(created.json()["id"])
        token = issuer.mint(
            subject="a@test", role="tenant_admin", tenant_id=tenant, ttl_seconds=600
        )  # type: ignore[arg-type]
        yield Gateway(app, http, platform, tenant, {"Authorization": f"Bearer {token}"})


async def test_a_purged_workspace_is_marked_and_can_no_longer_be_restored(
    gateway: Gateway, database_url: str
) -> None:
    workspace = UUID(
        (
            await gateway.http.post("/v1/workspaces", json={"name": "w"}, headers=gateway.admin)
        ).json()["id"]
    )
    deleted = await gateway.http.delete(f"/v1/workspaces/{workspace}", headers=gateway.admin)
    assert deleted.status_code == 200, deleted.text

    request = Envelope.wrap(
        PurgeRequested(
            manifest_id=uuid7(),
            older_than=datetime.now(UTC),
            scope="workspace",
            workspace_id=workspace,
        ),
        source="/sextant/archive",
        tenantid=gateway.tenant,
        workspaceid=workspace,
        subject="scope:x",
    )
    key = entity_key(gateway.tenant, workspace, "scope:x")
    await gateway.app.state.service.bus.publish([record_for(request, LIFECYCLE.name, key)])
    await purged_at(database_url, workspace)

    restored = await gateway.http.post(f"/v1/workspaces/{workspace}/restore", headers=gateway.admin)
    assert restored.status_code == 410, restored.text
    assert restored.headers["content-type"] == "application/problem+json"
    assert "was purged" in restored.json()["detail"]

    # the audit log: tenant.create, workspace.create, workspace.delete so far
    chain = await fetch_when(
        database_url,
        "SELECT seq, at, action FROM gateway.audit_log WHERE tenant_id = $1 ORDER BY seq",
        gateway.tenant,
        until=lambda rows: len(rows) >= 3,
    )
    # in the order the bus delivered them (tenant.create may come last)
    assert sorted(r["action"] for r in chain[:3]) == [
        "tenant.create",
        "workspace.create",
        "workspace.delete",
    ]
    first, second = sorted(r["at"] for r in chain[:2])  # rows 1 and 2, earliest first

    async def purge_audit(holds: list[PurgeHold]) -> int:
        """Ask for the rows 1 and 2's purge; how many were purged in all, once handled."""
        asked = Envelope.wrap(
            PurgeRequested(
                manifest_id=uuid7(),
                data_class="audit_log",
                topic="sextant.config",
                not_before=first,
                older_than=second,
                holds=holds,
            ),
            source="/sextant/archive",
            tenantid=gateway.tenant,
            subject="manifest:x",
        )
        key = entity_key(gateway.tenant, None, "manifest:x")
        await gateway.app.state.service.bus.publish([record_for(asked, LIFECYCLE.name, key)])
        await fetch_when(
            database_url, "SELECT 1 FROM gateway.inbox WHERE event_id = $1", asked.id
        )  # handled
        purged = await fetch_when(
            database_url,
            "SELECT purged FROM gateway.audit_checkpoints WHERE tenant_id = $1",
            gateway.tenant,
            until=lambda rows: True,
        )
        return int(purged[0]["purged"]) if purged else 0

    # a hold meeting rows 1 and 2 stops the prefix before them: nothing goes
    held = PurgeHold(scope_kind="tenant", starts_at=first, ends_at=second + timedelta(0, 1))
    assert await purge_audit([held]) == 0
    assert await purge_audit([]) == 2
    await fetch_when(
        database_url,
        "SELECT 1 FROM gateway.audit_log WHERE tenant_id = $1 AND action = 'audit_log.purge'",
        gateway.tenant,
    )
    verified = (await gateway.http.get("/v1/audit-log/verify", headers=gateway.admin)).json()
    assert verified["intact"] is True, verified
    assert (verified["verified_from"], verified["purged"]) == (2, 2)

    await fetch_when(
        database_url,
        "UPDATE gateway.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 3"
        " RETURNING seq",
        gateway.tenant,
    )
    tampered = (await gateway.http.get("/v1/audit-log/verify", headers=gateway.admin)).json()
    assert (tampered["intact"], tampered["first_bad_seq"]) == (False, 3), tampered

    # a second workspace's purge takes it out of the views naming it: a view left with
    # another keeps it, one left with none is deleted; both changes audited as the archive's
    made = [
        await gateway.http.post("/v1/workspaces", json={"name": n}, headers=gateway.admin)
        for n in ("gone", "kept")
    ]
    gone, kept = (UUID(m.json()["id"]) for m in made)
    both, only = [
        (
            await gateway.http.post(
                "/v1/views", json={"name": n, "workspace_ids": ids}, headers=gateway.admin
            )
        ).json()["id"]
        for n, ids in (("both", [str(gone), str(kept)]), ("only", [str(gone)]))
    ]
    deleted = await gateway.http.delete(f"/v1/workspaces/{gone}", headers=gateway.admin)
    assert deleted.status_code == 200, deleted.text
    state = gateway.app.state.service
    async with state.db.transaction(gateway.tenant) as session:
        await state.spec.handlers[LIFECYCLE.name](session, scope_purge(gateway.tenant, gone))
    left = await gateway.http.get(f"/v1/views/{both}", headers=gateway.admin)
    assert left.json()["workspace_ids"] == [str(kept)], left.text
    emptied = await gateway.http.get(f"/v1/views/{only}", headers=gateway.admin)
    assert emptied.status_code == 404, emptied.text
    audited = await fetch_when(
        database_url,
        "SELECT action, target_id FROM gateway.audit_log"
        " WHERE tenant_id = $1 AND actor = 'archive' AND action LIKE 'view.%' ORDER BY action",
        gateway.tenant,
        until=lambda rows: len(rows) >= 2,
    )
    assert [(r["action"], r["target_id"]) for r in audited] == [
        ("view.delete", only),
        ("view.update", both),
    ]


async def test_a_purged_tenant_leaves_only_its_tombstones_and_its_key_stops_working(
    gateway: Gateway, database_url: str
) -> None:
    made = await gateway.http.post(
        "/v1/api-keys",
        json={"name": "ci", "role": "member"},
        headers=gateway.admin,
    )
    assert made.status_code == 201, made.text
    as_key = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await gateway.http.get("/v1/me", headers=as_key)).status_code == 200
    deleted = await gateway.http.delete(f"/v1/tenants/{gateway.tenant}", headers=gateway.platform)
    assert deleted.status_code == 200, deleted.text

    state = gateway.app.state.service
    handler = state.spec.handlers[LIFECYCLE.name]
    async with state.db.transaction(gateway.tenant) as session:
        await handler(session, scope_purge(gateway.tenant))
    refused = await gateway.http.get("/v1/me", headers=as_key)
    assert refused.status_code == 401, refused.text
    restored = await gateway.http.post(
        f"/v1/tenants/{gateway.tenant}/restore", headers=gateway.platform
    )
    assert restored.status_code == 410, restored.text
    record = await fetch_when(
        database_url,
        "SELECT target_id, after FROM gateway.audit_log"
        " WHERE tenant_id = $1 AND action = 'tenant.purge'",
        PLATFORM_CHAIN,
    )
    assert record[0]["target_id"] == str(gateway.tenant)

    # the tenant's late events bring nothing back
    async with state.db.transaction(gateway.tenant) as session:
        late = [
            await state.outbox.add(session, event, tenant_id=gateway.tenant, entity="late")
            for event in (
                NotificationRaised(
                    notification_id=uuid7(),
                    severity="info",
                    audience=["tenant_admin"],
                    title="t",
                    body="b",
                    raised_by="x",
                ),
                ConfigChanged(actor="x", action="view.create", target_type="view", target_id="v"),
            )
        ]
    await fetch_when(
        database_url,
        "SELECT 1 FROM gateway.inbox WHERE event_id = ANY($1)",
        [e.id for e in late],
        until=lambda rows: len(rows) == 2,
    )
    left = await fetch_when(
        database_url,
        "SELECT (SELECT count(*) FROM gateway.notifications WHERE tenant_id = $1)"
        " + (SELECT count(*) FROM gateway.audit_log WHERE tenant_id = $1) AS n,"
        " (SELECT array_agg(action) FROM gateway.audit_log WHERE tenant_id = $1) AS actions",
        gateway.tenant,
        until=lambda rows: True,
    )
    assert left[0]["n"] == 0, left

    # every table, filled directly for a second soft-deleted tenant (and another)
    filled = uuid7()
    await fetch_when(
        database_url,
        "INSERT INTO gateway.tenants (id, name, created_at, deleted_at)"
        " VALUES ($1, 'filled', now(), now()) RETURNING id",
        filled,
    )
    await check_scope_purges_leave_nothing(
        state.db,
        handler,
        PURGER,
        tenant=filled,
        other=uuid7(),
        workspace_tables=(),  # no gateway table is per workspace
        owner_deletes=(audit_log, audit_heads, audit_checkpoints),
        workspace_lists=(views.c.workspace_ids,),
    )

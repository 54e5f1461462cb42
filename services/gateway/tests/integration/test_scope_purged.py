"""The archive's purges reaching the gateway through the bus: a soft-deleted workspace is
marked purged, and restoring it is then a 410 saying so (even within its grace period,
which a purge can only follow when the clocks disagree); a purged tenant leaves no row in
any gateway table but its tombstones, its audit chain gone with a record of the purge in
the platform's chain, and its API key answers 401; the audit log's oldest rows are purged
past a checkpoint (not a row a hold meets), the chain still verifies from it, the purge is
audited, and a kept row tampered with is found."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.db import audit_checkpoints, audit_heads, audit_log
from sextant.gateway.domain.audit import PLATFORM_CHAIN
from sextant.gateway.main import create_app
from sextant.gateway.retention import PURGER
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.testing.purging import check_scope_purges_leave_nothing, scope_purge


async def purged_at(database_url: str, workspace: UUID) -> datetime:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
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
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        async with asyncio.timeout(30):
            while not until(rows := await conn.fetch(query, *args)):
                await asyncio.sleep(0.05)
            return rows
    finally:
        await conn.close()


async def test_a_purged_workspace_is_marked_and_can_no_longer_be_restored(
    database_url: str, internal_keys: InternalKeys
) -> None:
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    app = create_app(
        service_settings(database_url, internal_keys), upstreams=Upstreams({}), local_issuer=issuer
    )
    async with running_app(app) as http:
        platform = issuer.mint(
            subject="root@test", role="platform_admin", tenant_id=None, ttl_seconds=600
        )  # type: ignore[arg-type]
        created = await http.post(
            "/v1/tenants", json={"name": "purged"}, headers={"Authorization": f"Bearer {platform}"}
        )
        tenant = UUID(created.json()["id"])
        token = issuer.mint(
            subject="a@test", role="tenant_admin", tenant_id=tenant, ttl_seconds=600
        )  # type: ignore[arg-type]
        admin = {"Authorization": f"Bearer {token}"}
        workspace = UUID(
            (await http.post("/v1/workspaces", json={"name": "w"}, headers=admin)).json()["id"]
        )
        deleted = await http.delete(f"/v1/workspaces/{workspace}", headers=admin)
        assert deleted.status_code == 200, deleted.text

        request = Envelope.wrap(
            PurgeRequested(
                manifest_id=uuid7(),
                older_than=datetime.now(UTC),
                scope="workspace",
                workspace_id=workspace,
            ),
            source="/sextant/archive",
            tenantid=tenant,
            workspaceid=workspace,
            subject="scope:x",
        )
        key = entity_key(tenant, workspace, "scope:x")
        await app.state.service.bus.publish([record_for(request, LIFECYCLE.name, key)])
        await purged_at(database_url, workspace)

        restored = await http.post(f"/v1/workspaces/{workspace}/restore", headers=admin)
        assert restored.status_code == 410, restored.text
        assert restored.headers["content-type"] == "application/problem+json"
        assert "was purged" in restored.json()["detail"]

        # the audit log: tenant.create, workspace.create, workspace.delete so far
        chain = await fetch_when(
            database_url,
            "SELECT seq, at, action FROM gateway.audit_log WHERE tenant_id = $1 ORDER BY seq",
            tenant,
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
                tenantid=tenant,
                subject="manifest:x",
            )
            key = entity_key(tenant, None, "manifest:x")
            await app.state.service.bus.publish([record_for(asked, LIFECYCLE.name, key)])
            await fetch_when(
                database_url, "SELECT 1 FROM gateway.inbox WHERE event_id = $1", asked.id
            )  # handled
            purged = await fetch_when(
                database_url,
                "SELECT purged FROM gateway.audit_checkpoints WHERE tenant_id = $1",
                tenant,
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
            tenant,
        )
        verified = (await http.get("/v1/audit-log/verify", headers=admin)).json()
        assert verified["intact"] is True, verified
        assert (verified["verified_from"], verified["purged"]) == (2, 2)

        await fetch_when(
            database_url,
            "UPDATE gateway.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 3"
            " RETURNING seq",
            tenant,
        )
        tampered = (await http.get("/v1/audit-log/verify", headers=admin)).json()
        assert (tampered["intact"], tampered["first_bad_seq"]) == (False, 3), tampered


async def test_a_purged_tenant_leaves_only_its_tombstones_and_its_key_stops_working(
    database_url: str, internal_keys: InternalKeys
) -> None:
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    app = create_app(
        service_settings(database_url, internal_keys), upstreams=Upstreams({}), local_issuer=issuer
    )
    async with running_app(app) as http:
        root = issuer.mint(
            subject="root@test", role="platform_admin", tenant_id=None, ttl_seconds=600
        )  # type: ignore[arg-type]
        platform = {"Authorization": f"Bearer {root}"}
        tenant = UUID(
            (await http.post("/v1/tenants", json={"name": "gone"}, headers=platform)).json()["id"]
        )
        token = issuer.mint(
            subject="a@test", role="tenant_admin", tenant_id=tenant, ttl_seconds=600
        )  # type: ignore[arg-type]
        made = await http.post(
            "/v1/api-keys",
            json={"name": "ci", "role": "member"},
            headers={"Authorization": f"Bearer {token}"},
        )
        as_key = {"Authorization": f"Bearer {made.json()['key']}"}
        assert made.status_code == 201, made.text
        assert (await http.get("/v1/me", headers=as_key)).status_code == 200
        deleted = await http.delete(f"/v1/tenants/{tenant}", headers=platform)
        assert deleted.status_code == 200, deleted.text

        state = app.state.service
        handler = state.spec.handlers[LIFECYCLE.name]
        async with state.db.transaction(tenant) as session:
            await handler(session, scope_purge(tenant))
        refused = await http.get("/v1/me", headers=as_key)
        assert refused.status_code == 401, refused.text
        restored = await http.post(f"/v1/tenants/{tenant}/restore", headers=platform)
        assert restored.status_code == 410, restored.text
        record = await fetch_when(
            database_url,
            "SELECT target_id, after FROM gateway.audit_log"
            " WHERE tenant_id = $1 AND action = 'tenant.purge'",
            PLATFORM_CHAIN,
        )
        assert record[0]["target_id"] == str(tenant)

        # every table, filled directly for a second soft-deleted tenant (and another)
        filled = uuid7()
        dsn = make_url(database_url).set(drivername="postgresql")
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            await conn.execute(
                "INSERT INTO gateway.tenants (id, name, created_at, deleted_at)"
                " VALUES ($1, 'filled', now(), now())",
                filled,
            )
        finally:
            await conn.close()
        await check_scope_purges_leave_nothing(
            state.db,
            handler,
            PURGER,
            tenant=filled,
            other=uuid7(),
            workspace_tables=(),  # no gateway table is per workspace
            owner_deletes=(audit_log, audit_heads, audit_checkpoints),
        )

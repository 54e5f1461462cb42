"""The archive's scope purge reaching the gateway through the bus: a soft-deleted workspace
is marked purged, and restoring it is then a 410 saying so (even within its grace period,
which a purge can only follow when the clocks disagree)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeRequested
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys


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

"""The gateway's internal routes over real PostgreSQL: another service, holding a token
minted for the gateway that names a user, reads that user's tenant name and audit log —
exactly what the public audit API shows the same user for the same period — and nothing
a user token or another role could not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.checks import check_forged_cursors_are_refused
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())


def bearer(role: str, tenant: str | None = None) -> dict[str, str]:
    token = ISSUER.mint(subject=f"{role}@test", role=role, tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def gateway(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        service_settings(database_url, internal_keys), upstreams=Upstreams({}), local_issuer=ISSUER
    )
    async with running_app(app) as client:
        yield client


async def test_a_service_reads_the_tenant_name_and_the_audit_log_a_user_may_see(
    gateway: httpx.AsyncClient, internal_keys: InternalKeys
) -> None:
    tenant = (
        await gateway.post(
            "/v1/tenants", json={"name": "Acme & Sons"}, headers=bearer("platform_admin")
        )
    ).json()["id"]
    admin = bearer("tenant_admin", tenant)
    for name in ("web", "api"):
        created = await gateway.post("/v1/workspaces", json={"name": name}, headers=admin)
        assert created.status_code == 201, created.text
    async with asyncio.timeout(20):  # the audit log is written by the gateway's consumer
        while len((await gateway.get("/v1/audit-log", headers=admin)).json()["items"]) < 3:
            await asyncio.sleep(0.05)

    def internal(role: str, on: Any = tenant) -> dict[str, str]:
        token = internal_keys.signer.mint(
            service="gateway",
            subject=f"{role}@test",
            role=role,  # type: ignore[arg-type]
            tenant_id=UUID(str(on)),
        )
        return {"Authorization": f"Bearer {token}"}

    named = await gateway.get("/internal/tenant", headers=internal("member"))
    assert named.status_code == 200, named.text
    assert named.json() == {"id": tenant, "name": "Acme & Sons"}

    public = (await gateway.get("/v1/audit-log", headers=admin)).json()["items"]
    [first] = [r for r in public if r["action"] == "tenant.create"]
    # the chain is in arrival order, not time order: the period starts at the earliest
    # workspace's change, after the tenant's (its request came first)
    period = {"since": min(r["at"] for r in public if r["action"] == "workspace.create")}
    page = await gateway.get(
        "/internal/audit-log", params={**period, "limit": 1}, headers=internal("tenant_admin")
    )
    assert page.status_code == 200, page.text
    more = await gateway.get(
        "/internal/audit-log",
        params={**period, "cursor": page.json()["next_cursor"]},
        headers=internal("tenant_admin"),
    )
    seen = page.json()["items"] + more.json()["items"]
    assert (
        seen == (await gateway.get("/v1/audit-log", params=period, headers=admin)).json()["items"]
    )
    assert [r["action"] for r in seen] == ["workspace.create", "workspace.create"]
    assert first["action"] == "tenant.create" and first not in seen
    verified = await gateway.get("/internal/audit-log/verify", headers=internal("platform_admin"))
    assert verified.json() == {
        "intact": True,
        "rows": 3,
        "first_bad_seq": None,
        "reason": None,
        "verified_from": None,  # nothing purged: checked from the chain's first row
        "purged": 0,
    }

    for role in ("manager", "member", "partner"):
        refused = await gateway.get("/internal/audit-log", headers=internal(role))
        assert refused.status_code == 403, (role, refused.text)
    other = await gateway.get("/internal/tenant", headers=internal("member", UUID(int=7)))
    assert other.status_code == 404
    assert (await gateway.get("/internal/tenant", headers=admin)).status_code == 401
    assert (await gateway.get("/internal/audit-log/verify")).status_code == 401

    # the tenant's live workspaces, paged, for a roll-up; another tenant's list is its own
    first_page = await gateway.get(
        "/internal/workspaces", params={"limit": 1}, headers=internal("member")
    )
    assert first_page.status_code == 200, first_page.text
    rest = await gateway.get(
        "/internal/workspaces",
        params={"cursor": first_page.json()["next_cursor"]},
        headers=internal("member"),
    )
    listed = first_page.json()["items"] + rest.json()["items"]
    assert [w["name"] for w in listed] == ["web", "api"]
    assert rest.json()["next_cursor"] is None
    nobody = await gateway.get("/internal/workspaces", headers=internal("member", UUID(int=7)))
    assert nobody.json() == {"items": [], "next_cursor": None}
    await check_forged_cursors_are_refused(gateway, "/internal/workspaces", internal("member"))
    await check_forged_cursors_are_refused(gateway, "/internal/audit-log", internal("tenant_admin"))

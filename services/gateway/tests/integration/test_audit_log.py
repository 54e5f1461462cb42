"""The audit log over real PostgreSQL and the local bus: every config change lands in its
tenant's hash chain through the topic; altering, removing or dropping the newest row is
named by the verifier (API and `sextant audit verify`); the app role cannot rewrite it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_app, service_settings
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


async def _records(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while True:
            items: list[dict[str, Any]] = (
                await client.get("/v1/audit-log", headers=headers)
            ).json()["items"]
            if len(items) >= count:
                return items
            await asyncio.sleep(0.05)


async def test_config_changes_are_chained_and_any_tampering_is_named(
    gateway: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant = (
        await gateway.post("/v1/tenants", json={"name": "Acme"}, headers=bearer("platform_admin"))
    ).json()["id"]
    admin = bearer("tenant_admin", tenant)
    ids = [
        (
            await gateway.post(
                "/v1/workspaces", json={"name": n}, headers={**admin, "x-request-id": f"req-{n}"}
            )
        ).json()["id"]
        for n in ("web", "api", "data")
    ]
    await gateway.patch(f"/v1/workspaces/{ids[0]}", json={"name": "frontend"}, headers=admin)
    await gateway.post("/v1/views", json={"name": "all", "workspace_ids": ids}, headers=admin)

    records = await _records(gateway, admin, 6)
    # The chain is in arrival order; changes to one target keep their order.
    assert sorted(r["action"] for r in records) == [
        "tenant.create", "view.create", "workspace.create", "workspace.create",
        "workspace.create", "workspace.update",
    ]  # fmt: skip
    assert [r["seq"] for r in records] == [6, 5, 4, 3, 2, 1]
    first = [r["action"] for r in reversed(records) if r["target_id"] == ids[0]]
    assert first == ["workspace.create", "workspace.update"]
    [rename] = [r for r in records if r["action"] == "workspace.update"]
    assert rename["before"]["name"] == "web" and rename["after"]["name"] == "frontend"
    assert rename["actor"] == "tenant_admin@test" and rename["service"] == "gateway"
    assert [r["request_id"] for r in records if r["action"] == "workspace.create"].count(
        "req-web"
    ) == 1
    created = (
        await gateway.get("/v1/audit-log", params={"action": "workspace.create"}, headers=admin)
    ).json()
    assert len(created["items"]) == 3
    page = (await gateway.get("/v1/audit-log", params={"limit": 4}, headers=admin)).json()
    rest = (
        await gateway.get("/v1/audit-log", params={"cursor": page["next_cursor"]}, headers=admin)
    ).json()
    assert [r["seq"] for r in page["items"] + rest["items"]] == [6, 5, 4, 3, 2, 1]
    for role in ("manager", "member", "partner"):
        assert (await gateway.get("/v1/audit-log", headers=bearer(role, tenant))).status_code == 403

    async def verdict() -> dict[str, Any]:
        reply: dict[str, Any] = (await gateway.get("/v1/audit-log/verify", headers=admin)).json()
        return reply

    assert await verdict() == {
        "intact": True,
        "rows": 6,
        "first_bad_seq": None,
        "reason": None,
        "verified_from": None,  # nothing purged: from the first row
        "purged": 0,
    }
    monkeypatch.setenv("DATABASE_URL", database_url)
    from sextant.cli.admin import verify_audit

    owner = await asyncpg.connect(database_url)
    try:
        table = "gateway.audit_log"
        # Rows are chained in arrival order, so whose row seq 3 is varies: keep its actor.
        actor = await owner.fetchval(f"SELECT actor FROM {table} WHERE seq = 3")
        await owner.execute(f"UPDATE {table} SET actor = 'mallory' WHERE seq = 3")
        assert (await verdict())["first_bad_seq"] == 3
        [(_, _, broken, _)] = await verify_audit(tmp_path)
        assert broken is not None and broken.seq == 3
        await owner.execute(f"UPDATE {table} SET actor = $1 WHERE seq = 3", actor)
        assert (await verdict())["intact"]

        for seq in (2, 6):  # a row in the middle, and the newest one
            saved = await owner.fetchrow(f"SELECT * FROM {table} WHERE seq = $1", seq)
            await owner.execute(f"DELETE FROM {table} WHERE seq = $1", seq)
            broken_verdict = await verdict()
            assert not broken_verdict["intact"] and broken_verdict["first_bad_seq"] == seq, (
                broken_verdict
            )
            assert saved is not None
            columns = ", ".join(saved.keys())
            marks = ", ".join(f"${i}" for i in range(1, len(saved) + 1))
            await owner.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", *saved.values()
            )
            assert (await verdict())["intact"]
    finally:
        await owner.close()

    from sqlalchemy.engine import make_url

    as_app = make_url(database_url).set(username="gateway_app", password="sextant-app")
    app_conn = await asyncpg.connect(plain_dsn(as_app))
    try:
        for statement in (
            "UPDATE gateway.audit_log SET actor = 'x'",
            "DELETE FROM gateway.audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app_conn.execute(statement)
    finally:
        await app_conn.close()

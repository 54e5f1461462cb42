"""A soft-deleted workspace or tenant stops its webhooks before the delete call returns,
on every ingest replica: a delivery sent right after is refused 410 (problem+json) and
nothing of it is stored, through the gateway and straight to another ingest replica that
had the source cached. If ingest cannot confirm, nothing is deleted (503)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.ingest.main import SPEC as INGEST
from sextant.runtime.app import create_service_app
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())


def root() -> dict[str, str]:
    """A platform admin's header, minted when used (one minted at import could expire in
    a long session before this module runs)."""
    token = ISSUER.mint(subject="root", role="platform_admin", tenant_id=None, ttl_seconds=600)
    return {"Authorization": f"Bearer {token}"}


PUSH = json.dumps(
    {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "a" * 40,
        "commits": [],
        "repository": {"id": 1, "full_name": "octo-org/octo-repo"},
        "pusher": {"name": "octocat"},
        "head_commit": {"timestamp": "2026-03-02T10:00:00Z"},
    }
).encode()


@dataclass
class Stack:
    gateway: httpx.AsyncClient  # in front of ingest replica one
    ingest_two: httpx.AsyncClient  # another ingest replica, reached directly
    dsn: str

    async def stored(self, delivery: str) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM ingest.deliveries WHERE delivery_id = $1", delivery
            )
            return count
        finally:
            await conn.close()


@asynccontextmanager
async def stack(
    database_url: str, keys: InternalKeys, data_dir: Path, ingest_upstream: Any = None
) -> AsyncIterator[Stack]:
    settings = service_settings(database_url, keys, data_dir=data_dir)

    def ingest_replica() -> FastAPI:
        return create_service_app(
            INGEST, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
        )

    one, two, idle = ingest_replica(), ingest_replica(), FastAPI()
    apps = {name: idle for name in UPSTREAM_SERVICES} | {"ingest": ingest_upstream or one}
    gateway = create_gateway(
        settings, upstreams=Upstreams.in_process(apps, timeout=5), local_issuer=ISSUER
    )
    dsn = plain_dsn(database_url)
    async with (
        asyncio.timeout(90),
        running_app(one),
        running_app(two) as direct,
        running_app(gateway) as public,
    ):
        yield Stack(public, direct, dsn)


def signed(secret: str, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), PUSH, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": f"sha256={digest}",
    }


async def connected_source(s: Stack) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """A tenant, its workspace and a GitHub source, made through the gateway."""
    tenant = (await s.gateway.post("/v1/tenants", json={"name": "Acme"}, headers=root())).json()
    token = ISSUER.mint(subject="a", role="tenant_admin", tenant_id=tenant["id"], ttl_seconds=600)
    admin = {"Authorization": f"Bearer {token}"}
    workspace = (await s.gateway.post("/v1/workspaces", json={"name": "w"}, headers=admin)).json()
    source = await s.gateway.post(
        f"/v1/workspaces/{workspace['id']}/sources",
        json={"kind": "github", "name": "octo"},
        headers=admin,
    )
    assert source.status_code == 201, source.text
    return tenant["id"], workspace["id"], admin, source.json()


@pytest.mark.parametrize("deleted", ["workspace", "tenant"])
async def test_a_webhook_right_after_its_workspace_or_tenant_is_deleted_is_refused_everywhere(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path, deleted: str
) -> None:
    async with stack(database_url, internal_keys, tmp_path) as s:
        tenant, workspace, admin, source = await connected_source(s)
        hook = f"/v1/hooks/{source['id']}"
        for client, delivery in ((s.gateway, "before-1"), (s.ingest_two, "before-2")):
            accepted = await client.post(
                hook, content=PUSH, headers=signed(source["secret"], delivery)
            )
            assert accepted.status_code == 202, accepted.text  # and the source cached there

        if deleted == "workspace":
            gone = await s.gateway.delete(f"/v1/workspaces/{workspace}", headers=admin)
        else:
            gone = await s.gateway.delete(f"/v1/tenants/{tenant}", headers=root())
        assert gone.status_code == 200, gone.text

        for client, delivery in ((s.gateway, "after-1"), (s.ingest_two, "after-2")):  # no sleep
            refused = await client.post(
                hook, content=PUSH, headers=signed(source["secret"], delivery)
            )
            assert refused.status_code == 410, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert "deleted workspace or tenant" in refused.json()["detail"]
            assert await s.stored(delivery) == 0
        assert await s.stored("before-1") == await s.stored("before-2") == 1


async def test_a_workspace_is_not_deleted_when_ingest_cannot_stop_its_webhooks(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async def answer_503(scope: Any, receive: Any, send: Any) -> None:
        """An ingest that answers every call 503."""
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with stack(database_url, internal_keys, tmp_path, ingest_upstream=answer_503) as s:
        tenant = (await s.gateway.post("/v1/tenants", json={"name": "Acme"}, headers=root())).json()
        token = ISSUER.mint(
            subject="a", role="tenant_admin", tenant_id=tenant["id"], ttl_seconds=600
        )
        admin = {"Authorization": f"Bearer {token}"}
        workspace = (
            await s.gateway.post("/v1/workspaces", json={"name": "w"}, headers=admin)
        ).json()
        refused = await s.gateway.delete(f"/v1/workspaces/{workspace['id']}", headers=admin)
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert "nothing was deleted" in refused.json()["detail"]
        still = await s.gateway.get(f"/v1/workspaces/{workspace['id']}", headers=admin)
        assert still.status_code == 200 and still.json()["deleted_at"] is None

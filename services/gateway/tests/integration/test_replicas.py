"""Two gateway replicas over one database: a key revoked, a workspace or a tenant deleted
through one is refused by both as soon as the call returns (no waiting for a cache to
expire: the caches here would keep entries for 30 s), open notification streams resting
on it are closed with 1008, and a replica that cannot hear revocations trusts no cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.revocation import Revocations
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.runtime.app import ServiceState
from sextant.runtime.testing.apps import served, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
CACHE_SECONDS = 30.0  # far longer than any test here waits


def bearer(role: str, tenant: UUID | str | None = None, subject: str = "someone") -> dict[str, str]:
    token = ISSUER.mint(subject=subject, role=role, tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def root() -> dict[str, str]:
    """A platform admin's header, minted when used: a token minted at import would expire
    in a long test session before this module's tests run."""
    return bearer("platform_admin", subject="root")


def answering_upstream() -> FastAPI:
    """Every service but ingest: answers 200 to anything, so a call that passes the
    gateway's own checks is told apart from one the gateway refuses."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything(path: str) -> dict[str, str]:
        return {"reached": path}

    return app


@dataclass
class Replica:
    http: httpx.AsyncClient
    ws_url: str
    state: ServiceState

    @property
    def revocations(self) -> Revocations:
        revocations: Revocations = self.state.extras["revocations"]
        return revocations


@asynccontextmanager
async def replica(database_url: str, internal_keys: InternalKeys) -> AsyncIterator[Replica]:
    """One gateway replica served by uvicorn on loopback (WebSockets need a real server)."""
    upstream = answering_upstream()
    apps = {name: upstream for name in UPSTREAM_SERVICES if name != "ingest"}
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams.in_process(apps, timeout=5),
        gateway_settings=GatewaySettings(api_key_cache_seconds=CACHE_SECONDS),
        local_issuer=ISSUER,
    )
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        state: ServiceState = app.state.service
        async with asyncio.timeout(10):  # both replicas listen before anything is revoked
            while not state.extras["revocations"].feed.trusted:
                await asyncio.sleep(0.05)
        ws_url = url.replace("http://", "ws://") + "/v1/notifications/stream"
        yield Replica(http, ws_url, state)


@pytest.fixture
async def replicas(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[Replica, Replica]]:
    async with (
        replica(database_url, internal_keys) as one,
        replica(database_url, internal_keys) as two,
    ):
        yield one, two


async def new_tenant(one: Replica) -> str:
    created = await one.http.post("/v1/tenants", json={"name": "Acme"}, headers=root())
    assert created.status_code == 201, created.text
    tenant: str = created.json()["id"]
    return tenant


async def new_key(one: Replica, tenant: str, role: str = "tenant_admin") -> dict[str, Any]:
    created = await one.http.post(
        "/v1/api-keys", json={"name": "ci", "role": role}, headers=bearer("tenant_admin", tenant)
    )
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    return key


async def closed_with(ws: ClientConnection, seconds: float = 5) -> tuple[int, str]:
    """The close code and reason the server ended ``ws`` with (heartbeats skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "the server did not send a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_key_revoked_through_one_replica_is_refused_by_both_as_the_call_returns(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    key = await new_key(one, tenant)
    as_key = {"Authorization": f"Bearer {key['key']}"}
    for r in (one, two):  # believed (cached) on both
        assert (await r.http.get("/v1/me", headers=as_key)).status_code == 200
    minted = await two.http.post(
        "/v1/api-keys", json={"name": "spare", "role": "member"}, headers=as_key
    )
    assert minted.status_code == 201  # the key may mint keys while it is live

    started = time.monotonic()
    revoked = await one.http.delete(
        f"/v1/api-keys/{key['id']}", headers=bearer("tenant_admin", tenant)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    # every replica acknowledged it: the call did not sit out its wait (2 s)
    assert time.monotonic() - started < 1.0

    for r in (one, two):  # at once: no sleep
        me = await r.http.get("/v1/me", headers=as_key)
        assert me.status_code == 401, (r.ws_url, me.text)
        again = await r.http.post(
            "/v1/api-keys", json={"name": "replacement", "role": "tenant_admin"}, headers=as_key
        )
        assert again.status_code == 401
    keys = (await one.http.get("/v1/api-keys", headers=bearer("tenant_admin", tenant))).json()
    assert sorted(k["name"] for k in keys) == ["ci", "spare"]


async def test_a_deleted_tenant_is_refused_by_both_replicas_as_the_call_returns(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    key = await new_key(one, tenant, role="member")
    callers = [bearer("member", tenant), {"Authorization": f"Bearer {key['key']}"}]
    for r in (one, two):
        for caller in callers:
            assert (await r.http.get("/v1/me", headers=caller)).status_code == 200

    assert (await two.http.delete(f"/v1/tenants/{tenant}", headers=root())).status_code == 200

    for r in (one, two):
        for caller in callers:
            assert (await r.http.get("/v1/me", headers=caller)).status_code == 403


async def test_a_deleted_workspace_is_out_of_every_scope_on_both_replicas_as_the_call_returns(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    admin = bearer("tenant_admin", tenant)
    workspace = (await one.http.post("/v1/workspaces", json={"name": "w"}, headers=admin)).json()
    scoped = {"scope": f"workspace:{workspace['id']}"}
    for r in (one, two):  # the scope resolved and cached on both
        reached = await r.http.get("/v1/metrics/dora", params=scoped, headers=admin)
        assert reached.status_code == 200, reached.text

    deleted = await one.http.delete(f"/v1/workspaces/{workspace['id']}", headers=admin)
    assert deleted.status_code == 200

    for r in (one, two):
        refused = await r.http.get("/v1/metrics/dora", params=scoped, headers=admin)
        assert refused.status_code == 404
        assert f"no workspace {workspace['id']}" in refused.json()["detail"]


async def test_a_stream_on_the_other_replica_is_closed_with_1008_when_its_key_is_revoked(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    key = await new_key(one, tenant, role="member")
    other = await new_key(one, tenant, role="member")
    async with (
        connect(two.ws_url, additional_headers={"Authorization": f"Bearer {key['key']}"}) as ws,
        connect(f"{two.ws_url}?access_token={other['key']}") as bystander,
        connect(one.ws_url, additional_headers=bearer("member", tenant)) as by_token,
    ):
        await asyncio.sleep(0.2)  # the server has registered the streams
        revoked = await one.http.delete(
            f"/v1/api-keys/{key['id']}", headers=bearer("tenant_admin", tenant)
        )
        assert revoked.status_code == 200
        code, reason = await closed_with(ws, seconds=1)
        assert (code, reason) == (1008, "the API key was revoked")
        for still_open in (bystander, by_token):  # other credentials are not touched
            await still_open.ping()
    with pytest.raises(InvalidStatus):  # and the revoked key cannot open a new one
        async with connect(f"{two.ws_url}?access_token={key['key']}"):
            pass


async def test_a_stream_on_the_other_replica_is_closed_with_1008_when_its_tenant_is_deleted(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant, spared = await new_tenant(one), await new_tenant(one)
    key = await new_key(one, tenant, role="member")
    async with (
        connect(f"{two.ws_url}?access_token={key['key']}") as by_key,
        connect(two.ws_url, additional_headers=bearer("member", tenant)) as by_token,
        connect(two.ws_url, additional_headers=bearer("member", spared)) as other_tenant,
    ):
        await asyncio.sleep(0.2)
        assert (await one.http.delete(f"/v1/tenants/{tenant}", headers=root())).status_code == 200
        for ws in (by_key, by_token):
            assert await closed_with(ws, seconds=1) == (1008, "the tenant was deleted")
        await other_tenant.ping()


async def test_a_replica_that_cannot_hear_revocations_trusts_no_cache(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    key = await new_key(one, tenant)
    as_key = {"Authorization": f"Bearer {key['key']}"}
    assert (await two.http.get("/v1/me", headers=as_key)).status_code == 200  # cached on two

    await two.revocations.feed.stop()  # two's listener is down: it hears nothing now
    assert not two.revocations.feed.trusted
    revoked = await one.http.delete(
        f"/v1/api-keys/{key['id']}", headers=bearer("tenant_admin", tenant)
    )
    assert revoked.status_code == 200
    assert (await two.http.get("/v1/me", headers=as_key)).status_code == 401

    await two.revocations.feed.start()  # back: it resets, then trusts its caches again
    async with asyncio.timeout(10):
        while not two.revocations.feed.trusted:
            await asyncio.sleep(0.05)
    assert (await two.http.get("/v1/me", headers=as_key)).status_code == 401


async def test_a_stream_that_missed_its_keys_revocation_is_closed_when_its_replica_hears_again(
    replicas: tuple[Replica, Replica],
) -> None:
    one, two = replicas
    tenant = await new_tenant(one)
    key = await new_key(one, tenant, role="member")
    async with connect(f"{two.ws_url}?access_token={key['key']}") as ws:
        await asyncio.sleep(0.2)
        await two.revocations.feed.stop()  # the revocation will not reach two
        revoked = await one.http.delete(
            f"/v1/api-keys/{key['id']}", headers=bearer("tenant_admin", tenant)
        )
        assert revoked.status_code == 200
        await ws.ping()  # still open: two has not heard
        await two.revocations.feed.start()  # reconnected: every open stream is re-checked
        code, reason = await closed_with(ws)
        assert code == 1008 and "revoked" in reason

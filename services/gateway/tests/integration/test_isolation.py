"""No caller can take intake down for others: a circuit opens for the tenant or webhook
source whose calls fail, never for everyone; a slow upload is cut off (408) before it
reaches a service or a breaker; and callers not (yet) known are rate limited — failures
per client address (before their credential costs a lookup), platform admins per subject,
webhooks per source — with 429, Retry-After and problem+json.

The services behind the gateway are one real HTTP server on loopback that reads each
body whole (as ingest does) and answers by path, as the test says."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.runtime.testing.apps import running_app, served, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
PROBLEM = "application/problem+json"


@dataclass
class Services:
    """Reads each body whole, then answers the status ``answers`` gives the path's first
    segments (longest prefix wins), else 404 for a webhook and 200 for anything else."""

    answers: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False) and message["type"] == "http.request"
        path = scope["path"]
        self.calls.append(path)
        prefixes = [p for p in self.answers if path.startswith(p)]
        default = 404 if path.startswith("/v1/hooks/") else 200
        status = self.answers[max(prefixes, key=len)] if prefixes else default
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture
async def services() -> AsyncIterator[tuple[Services, str]]:
    app = Services()
    async with served(app) as url:
        yield app, url


@dataclass
class Edge:
    client: httpx.AsyncClient
    root: dict[str, str]
    tenants: dict[str, dict[str, str]]  # "a", "b" → Authorization of a manager


@asynccontextmanager
async def edge(
    database_url: str, internal_keys: InternalKeys, url: str, **limits: Any
) -> AsyncIterator[Edge]:
    urls = dict.fromkeys(UPSTREAM_SERVICES, url)
    settings = GatewaySettings(
        service_urls=urls,
        breaker_failures=3,
        breaker_cooldown_seconds=30,
        webhook_body_grace_seconds=0.5,
        webhook_body_min_bytes_per_second=1000,
        **limits,
    )
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams.over_http(urls, timeout=1),
        gateway_settings=settings,
        local_issuer=ISSUER,
    )
    async with running_app(app) as client:
        token = ISSUER.mint(subject="root", role="platform_admin", tenant_id=None, ttl_seconds=600)
        root = {"Authorization": f"Bearer {token}"}
        tenants = {}
        for name in ("a", "b"):
            made = await client.post("/v1/tenants", json={"name": name}, headers=root)
            tenant = made.json()["id"]
            token = ISSUER.mint(subject=name, role="manager", tenant_id=tenant, ttl_seconds=600)
            tenants[name] = {"Authorization": f"Bearer {token}"}
        yield Edge(client, root, tenants)


async def deliver(client: httpx.AsyncClient, source: object, **headers: str) -> httpx.Response:
    return await client.post(
        f"/v1/hooks/{source}",
        content=json.dumps({"zen": "hi"}).encode(),
        headers={"content-type": "application/json", **headers},
    )


async def test_failing_deliveries_to_one_source_pause_that_source_only(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    source_a, source_b = uuid4(), uuid4()
    upstream.answers = {f"/v1/hooks/{source_a}": 503, f"/v1/hooks/{source_b}": 202}
    async with edge(database_url, internal_keys, url) as gw:
        replies = [await deliver(gw.client, source_a) for _ in range(5)]
        assert [r.status_code for r in replies] == [503] * 5
        assert upstream.calls.count(f"/v1/hooks/{source_a}") == 3  # then paused: not sent
        assert "paused" in replies[-1].json()["detail"]
        assert (await deliver(gw.client, source_b)).status_code == 202
        sources = await gw.client.get(f"/v1/sources/{uuid4()}", headers=gw.tenants["b"])
        assert sources.status_code == 200  # ingest's own API, for another tenant


async def test_one_tenants_failing_calls_pause_that_tenant_only(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    upstream.answers = {"/v1/reports/broken": 503}
    async with edge(database_url, internal_keys, url) as gw:
        for _ in range(3):
            failed = await gw.client.post("/v1/reports/broken", json={}, headers=gw.tenants["a"])
            assert failed.status_code == 503
        paused = await gw.client.post("/v1/reports/fine", json={}, headers=gw.tenants["a"])
        assert paused.status_code == 503 and "paused" in paused.json()["detail"]
        other = await gw.client.post("/v1/reports/fine", json={}, headers=gw.tenants["b"])
        assert other.status_code == 200
        assert (await deliver(gw.client, uuid4())).status_code == 404  # ingest not paused


async def test_slow_uploads_get_408_before_they_reach_a_service_or_a_breaker(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    source_b = uuid4()
    upstream.answers = {f"/v1/hooks/{source_b}": 202}

    async def one_byte_a_second() -> AsyncIterator[bytes]:
        for byte in b'{"zen": "slow"}':
            yield bytes([byte])
            await asyncio.sleep(1)

    async with edge(database_url, internal_keys, url) as gw:
        slow = await asyncio.gather(
            *(
                gw.client.post(
                    f"/v1/hooks/{uuid4()}",
                    content=one_byte_a_second(),
                    headers={"content-type": "application/json"},
                )
                for _ in range(5)
            )
        )
        assert [r.status_code for r in slow] == [408] * 5
        assert slow[0].headers["content-type"] == PROBLEM
        assert "too slowly" in slow[0].json()["detail"]
        assert upstream.calls == []
        assert (await deliver(gw.client, source_b)).status_code == 202


async def test_a_webhook_body_over_ingests_limit_is_refused_before_it_is_sent(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    async with edge(database_url, internal_keys, url, webhook_max_body_bytes=2048) as gw:

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b" " * 1000

        over = await gw.client.post(
            f"/v1/hooks/{uuid4()}", content=chunked(), headers={"content-type": "application/json"}
        )
        assert over.status_code == 413 and "2048 byte" in over.json()["detail"]
        assert upstream.calls == []


async def test_failed_authentications_are_limited_per_client_address_before_any_lookup(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    _, url = services
    limits = {
        "anonymous_failure_burst": 3,
        "anonymous_failure_rate_per_second": 0.01,
        "trusted_proxies": 1,
    }
    async with edge(database_url, internal_keys, url, **limits) as gw:
        bad_key = {"Authorization": "Bearer sxk_0123456789abcdef_not-a-real-secret"}
        attempts = [
            await gw.client.get("/v1/me", headers=bad_key),
            await gw.client.get("/v1/me"),  # no credentials at all
            await gw.client.get("/v1/reports/r1", headers=bad_key),
        ]
        assert [r.status_code for r in attempts] == [401, 401, 401]
        refused = await gw.client.get("/v1/me", headers=bad_key)
        assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
        assert int(refused.headers["retry-after"]) >= 99  # one token at 0.01/s
        assert "this address" in refused.json()["detail"]
        assert (await gw.client.get("/v1/me")).status_code == 429
        # A JWT is still checked (its signature, no lookup): a good one passes, a forged
        # one gets 429 too.
        assert (await gw.client.get("/v1/me", headers=gw.tenants["a"])).status_code == 200
        forged = {"Authorization": gw.tenants["a"]["Authorization"][:-4] + "AAAA"}
        assert (await gw.client.get("/v1/me", headers=forged)).status_code == 429
        # Another address (named by the one trusted proxy) is not held back ...
        elsewhere = {"x-forwarded-for": "198.51.100.7"}
        assert (await gw.client.get("/v1/me", headers=bad_key | elsewhere)).status_code == 401
        # ... and a client cannot pick its address past the proxy's entry.
        spoofed = {"x-forwarded-for": "198.51.100.8, 127.0.0.1"}
        assert (await gw.client.get("/v1/me", headers=bad_key | spoofed)).status_code == 429


async def test_a_platform_admin_is_limited_per_subject(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    _, url = services
    limits = {"admin_burst": 3, "admin_rate_per_second": 0.5}
    async with edge(database_url, internal_keys, url, **limits) as gw:
        # Making the two tenants took two of root's three requests.
        assert (await gw.client.get("/v1/me", headers=gw.root)).status_code == 200
        limited = await gw.client.get("/v1/me", headers=gw.root)
        assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
        assert limited.headers["retry-after"] == "2"
        other = ISSUER.mint(subject="ops", role="platform_admin", tenant_id=None, ttl_seconds=60)
        me = await gw.client.get("/v1/me", headers={"Authorization": f"Bearer {other}"})
        assert me.status_code == 200
        assert (await gw.client.get("/v1/me", headers=gw.tenants["a"])).status_code == 200


async def test_webhooks_are_limited_per_source_and_unknown_sources_per_address(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    busy, quiet = uuid4(), uuid4()
    upstream.answers = {f"/v1/hooks/{busy}": 202, f"/v1/hooks/{quiet}": 202}
    limits = {
        "webhook_source_burst": 3,
        "webhook_source_rate_per_second": 1,
        "anonymous_failure_burst": 2,
        "anonymous_failure_rate_per_second": 0.01,
        "trusted_proxies": 1,
    }
    async with edge(database_url, internal_keys, url, **limits) as gw:
        replies = [await deliver(gw.client, busy) for _ in range(4)]
        assert [r.status_code for r in replies] == [202, 202, 202, 429]
        assert replies[-1].headers["retry-after"] == "1"
        assert replies[-1].headers["content-type"] == PROBLEM
        assert upstream.calls.count(f"/v1/hooks/{busy}") == 3
        assert (await deliver(gw.client, quiet)).status_code == 202

        scanner = {"x-forwarded-for": "203.0.113.9"}
        probes = [await deliver(gw.client, uuid4(), **scanner) for _ in range(2)]
        probes.append(await deliver(gw.client, "not-a-uuid", **scanner))
        assert [r.status_code for r in probes] == [404, 404, 429]
        assert (await deliver(gw.client, quiet, **scanner)).status_code == 429
        assert (await deliver(gw.client, quiet)).status_code == 202  # other addresses pass


async def test_refused_deliveries_hold_back_their_source_from_that_address_not_the_sender(
    database_url: str, internal_keys: InternalKeys, services: tuple[Services, str]
) -> None:
    upstream, url = services
    broken, deleted, fine = uuid4(), uuid4(), uuid4()
    upstream.answers = {
        f"/v1/hooks/{broken}": 401,  # a tenant's secret does not match
        f"/v1/hooks/{deleted}": 404,  # a deleted source whose hook still fires
        f"/v1/hooks/{fine}": 202,
    }
    limits = {
        "anonymous_failure_burst": 3,
        "anonymous_failure_rate_per_second": 0.01,
        "trusted_proxies": 1,
    }
    async with edge(database_url, internal_keys, url, **limits) as gw:
        hook_service = {"x-forwarded-for": "192.0.2.10"}  # one tool delivering for everyone
        for source, status in ((broken, 401), (deleted, 404)):
            replies = [await deliver(gw.client, source, **hook_service) for _ in range(4)]
            assert [r.status_code for r in replies] == [status] * 3 + [429]
            assert upstream.calls.count(f"/v1/hooks/{source}") == 3
        # The same sender's deliveries to another tenant's source still go through ...
        assert (await deliver(gw.client, fine, **hook_service)).status_code == 202
        # ... and another sender still reaches the broken source.
        other = await deliver(gw.client, broken, **{"x-forwarded-for": "192.0.2.11"})
        assert other.status_code == 401

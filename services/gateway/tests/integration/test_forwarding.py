"""What a forwarded call carries and how failures are handled, against an upstream that
is a real HTTP server on loopback and answers as told: the internal token replaces the
caller's credential, the request id and traceparent travel along, idempotent calls are
retried (others never), and a circuit opens on a failing service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.testing.apps import running_app, served, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())


@dataclass
class Upstream:
    """Answers each call with the next status of ``script`` (then 200), echoing headers."""

    script: list[int] = field(default_factory=list)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        headers[":path"] = scope["raw_path"].decode()
        self.calls.append((scope["method"], headers))
        status = self.script.pop(0) if self.script else 200
        body = json.dumps({"headers": headers}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    app = Upstream()
    async with served(app) as url:
        yield app, url


@pytest.fixture
async def gateway(
    database_url: str, internal_keys: InternalKeys, upstream: tuple[Upstream, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    _, url = upstream
    dead = f"http://127.0.0.1:{free_port()}"
    urls = {name: (url if name == "reports" else dead) for name in UPSTREAM_SERVICES}
    settings = GatewaySettings(service_urls=urls, breaker_failures=3, breaker_cooldown_seconds=30)
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams.over_http(urls, timeout=5),
        gateway_settings=settings,
        local_issuer=ISSUER,
    )
    async with running_app(app) as client:
        root = {
            "Authorization": f"Bearer {ISSUER.mint(subject='root', role='platform_admin', tenant_id=None, ttl_seconds=600)}"
        }
        tenant = (await client.post("/v1/tenants", json={"name": "Acme"}, headers=root)).json()[
            "id"
        ]
        token = ISSUER.mint(subject="ada", role="manager", tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
        yield client, {"Authorization": f"Bearer {token}", "x-tenant": tenant}


async def test_a_forwarded_call_carries_an_internal_token_the_request_id_and_traceparent(
    gateway: tuple[httpx.AsyncClient, dict[str, str]],
    upstream: tuple[Upstream, str],
    internal_keys: InternalKeys,
) -> None:
    client, headers = gateway
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    reply = await client.get(
        "/v1/reports/r1",
        headers={
            "Authorization": headers["Authorization"],
            "x-request-id": "req-42",
            "traceparent": traceparent,
        },
    )
    assert reply.status_code == 200 and reply.headers["x-request-id"] == "req-42"
    seen = reply.json()["headers"]
    assert seen["x-request-id"] == "req-42" and seen["traceparent"] == traceparent
    internal = seen["authorization"].removeprefix("Bearer ")
    assert internal != headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(internal, options={"verify_signature": False})
    assert claims["aud"] == "sextant:reports" and claims["role"] == "manager"
    assert claims["sub"] == "ada" and claims["tid"] == headers["x-tenant"]
    assert claims["exp"] - claims["iat"] <= 60


async def test_idempotent_calls_are_retried_others_are_not_and_a_failing_service_opens_its_circuit(
    gateway: tuple[httpx.AsyncClient, dict[str, str]], upstream: tuple[Upstream, str]
) -> None:
    client, headers = gateway
    service, _ = upstream
    auth = {"Authorization": headers["Authorization"]}

    service.script = [503, 502]
    assert (await client.get("/v1/reports/r1", headers=auth)).status_code == 200
    assert [m for m, _ in service.calls] == ["GET"] * 3

    service.calls.clear()
    service.script = [503]
    reply = await client.post("/v1/reports", json={}, headers=auth)
    assert reply.status_code == 503 and [m for m, _ in service.calls] == ["POST"]

    service.script = [503] * 20
    for _ in range(2):  # with the POST above: three failures in a row
        await client.post("/v1/reports", json={}, headers=auth)
    service.calls.clear()
    paused = await client.get("/v1/reports/r1", headers=auth)
    assert paused.status_code == 503 and service.calls == []
    assert "paused" in paused.json()["detail"] and int(paused.headers["retry-after"]) > 0


async def test_a_path_that_could_climb_out_of_the_public_api_is_refused_before_it_leaves(
    gateway: tuple[httpx.AsyncClient, dict[str, str]], upstream: tuple[Upstream, str]
) -> None:
    client, headers = gateway
    service, _ = upstream
    auth = {"Authorization": headers["Authorization"]}
    for path in (
        "/v1/reports/..%2F..%2Finternal%2Finfo",
        "/v1/reports/%2E%2E/%2E%2E/internal/info",
        "/v1/reports/x%2Fy",
        "/v1/reports/%1E%26",
        "/v1/reports//x",
    ):
        reply = await client.get(path, headers=auth)
        assert reply.status_code == 404, (path, reply.text)
    assert service.calls == []

    reply = await client.get("/v1/reports/a%20b%3Fc", headers=auth)
    assert reply.status_code == 200
    assert reply.json()["headers"][":path"] == "/v1/reports/a%20b%3Fc"  # sent as it was meant

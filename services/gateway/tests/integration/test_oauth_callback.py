"""The Jira OAuth 2.0 callback at the edge: routed to ingest without a bearer token (the
state authenticates it), with its query string; sent once, never retried (the state is
spent by the first try); a refused one charged to the caller's address like a failed
sign-in; and documented in the public OpenAPI document without the bearer scheme.

Behind the gateway is one real HTTP server on loopback that records what reaches it and
answers by path, as the test says (the whole flow with ingest is in ingest's tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.runtime.testing.apps import running_app, served, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
CALLBACK = "/v1/oauth/jira/callback"


@dataclass
class Ingest:
    """Answers every call with ``status`` and records the path, query and authorization."""

    status: int = 200
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization")
        self.calls.append(
            (
                scope["path"],
                scope["query_string"].decode(),
                authorization.decode() if authorization else None,
            )
        )
        body = b'{"detail": "from ingest"}'
        content_type = b"application/problem+json" if self.status >= 400 else b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[Ingest, str]]:
    app = Ingest()
    async with served(app) as url:
        yield app, url


def gateway(database_url: str, internal_keys: InternalKeys, url: str) -> Any:
    urls = dict.fromkeys(UPSTREAM_SERVICES, url)
    settings = GatewaySettings(
        service_urls=urls,
        upstream_retries=2,
        anonymous_failure_burst=3,
        anonymous_failure_rate_per_second=0.001,
    )
    return create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams.over_http(urls, timeout=2),
        gateway_settings=settings,
        local_issuer=ISSUER,
    )


async def test_the_callback_reaches_ingest_without_a_bearer_and_with_its_query(
    database_url: str, internal_keys: InternalKeys, ingest: tuple[Ingest, str]
) -> None:
    upstream, url = ingest
    async with running_app(gateway(database_url, internal_keys, url)) as client:
        reply = await client.get(CALLBACK, params={"code": "c-1", "state": "s 1/+"})
    assert reply.status_code == 200, reply.text
    assert upstream.calls == [(CALLBACK, "code=c-1&state=s+1%2F%2B", None)]


async def test_a_failing_callback_is_sent_once_and_refusals_cost_the_address(
    database_url: str, internal_keys: InternalKeys, ingest: tuple[Ingest, str]
) -> None:
    upstream, url = ingest
    async with running_app(gateway(database_url, internal_keys, url)) as client:
        upstream.status = 502  # Atlassian's token endpoint failed, as ingest says
        failed = await client.get(CALLBACK, params={"code": "c", "state": "s"})
        assert failed.status_code == 502
        assert len(upstream.calls) == 1  # a GET, yet not retried: the state is spent

        upstream.status = 409  # replayed states, one after another
        statuses = [
            (await client.get(CALLBACK, params={"code": "c", "state": "s"})).status_code
            for _ in range(5)
        ]
    assert statuses == [409, 409, 409, 429, 429]  # three failures allowed at once
    assert len(upstream.calls) == 4  # the 429s are answered before ingest is asked


async def test_the_callback_is_documented_without_the_bearer_scheme(
    database_url: str, internal_keys: InternalKeys, ingest: tuple[Ingest, str]
) -> None:
    _, url = ingest
    async with running_app(gateway(database_url, internal_keys, url)) as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"][CALLBACK]["get"]
    assert "security" not in operation
    assert operation["summary"] and operation["description"]
    assert {p["name"]: bool(p.get("description")) for p in operation["parameters"]} == {
        "code": True,
        "state": True,
        "error": True,
        "error_description": True,
    }
    assert set(operation["responses"]) == {
        "200",
        "400",
        "403",
        "404",
        "409",
        "410",
        "422",
        "429",
        "502",
        "503",
    }

"""Header bytes outside ASCII (0xff, 0xe9: what a Latin-1 client or an attacker sends)
through the real gateway and the real ingest behind it: every answer is a 4xx problem
naming the header, or the header is passed through harmlessly — never a 500, never a
traceback in the logs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.ingest.main import SPEC as INGEST
from sextant.runtime.app import create_service_app
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
LATIN = b"caf\xe9 \xff"
PUSH = {
    "ref": "refs/heads/main",
    "before": "0" * 40,
    "after": "a" * 40,
    "commits": [],
    "repository": {"id": 1, "full_name": "octo-org/octo-repo"},
    "pusher": {"name": "octocat"},
    "head_commit": {"timestamp": "2026-03-02T10:00:00Z"},
}


@dataclass
class Stack:
    public: httpx.AsyncClient
    admin: dict[str, str]
    workspace: str
    source: dict[str, Any]

    def signed(self, body: bytes, delivery: str) -> dict[str, Any]:
        digest = hmac.new(self.source["secret"].encode(), body, hashlib.sha256).hexdigest()
        return {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": f"sha256={digest}",
        }


@pytest.fixture
async def stack(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> AsyncIterator[Stack]:
    settings = service_settings(database_url, internal_keys, data_dir=tmp_path)
    ingest = create_service_app(
        INGEST, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    idle = FastAPI()
    apps = {name: idle for name in UPSTREAM_SERVICES} | {"ingest": ingest}
    gateway = create_gateway(
        settings, upstreams=Upstreams.in_process(apps, timeout=5), local_issuer=ISSUER
    )
    async with asyncio.timeout(120), running_app(ingest), running_app(gateway) as public:
        root = ISSUER.mint(subject="root", role="platform_admin", tenant_id=None, ttl_seconds=600)
        tenant = (
            await public.post(
                "/v1/tenants", json={"name": "Acme"}, headers={"Authorization": f"Bearer {root}"}
            )
        ).json()["id"]
        token = ISSUER.mint(subject="ada", role="tenant_admin", tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
        admin = {"Authorization": f"Bearer {token}"}
        workspace = await public.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
        assert workspace.status_code == 201, workspace.text
        created = await public.post(
            f"/v1/workspaces/{workspace.json()['id']}/sources",
            json={"kind": "github", "name": "octo"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        yield Stack(public, admin, workspace.json()["id"], created.json())


def _harmless(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text


async def test_any_header_with_latin1_bytes_on_a_webhook_is_no_500(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(PUSH).encode()
    names = [
        "x-custom",
        "user-agent",
        "accept",
        "accept-language",
        "cookie",
        "x-request-id",
        "traceparent",
        "x-forwarded-for",
        "authorization",
        "content-type",
        "x-github-event",
        "x-github-delivery",
        "x-hub-signature-256",
    ]
    for n, name in enumerate(names):
        headers: dict[str, Any] = stack.signed(body, f"latin-{n}") | {name: LATIN}
        response = await stack.public.post(
            f"/v1/hooks/{stack.source['id']}", content=body, headers=headers
        )
        _harmless(response)
        assert response.headers["x-request-id"].isascii()
    logged = capfd.readouterr()
    assert "request.crashed" not in logged.out + logged.err
    assert "Traceback" not in logged.out + logged.err


async def test_headers_that_matter_are_named_and_others_pass_through(stack: Stack) -> None:
    body = json.dumps(PUSH).encode()
    hook = f"/v1/hooks/{stack.source['id']}"
    passed = await stack.public.post(
        hook, content=body, headers=stack.signed(body, "plain") | {"x-custom": LATIN}
    )
    assert passed.status_code == 202, passed.text
    for name, named in (
        ("x-github-delivery", "X-GitHub-Delivery"),
        ("x-github-event", "X-GitHub-Event"),
    ):
        refused = await stack.public.post(
            hook, content=body, headers=stack.signed(body, "named") | {name: LATIN}
        )
        assert refused.status_code == 400, refused.text
        assert named in refused.json()["detail"]
    # a request id that is no id is replaced by a fresh one, not echoed back
    fresh = await stack.public.post(
        hook, content=body, headers=stack.signed(body, "ids") | {"x-request-id": LATIN}
    )
    assert fresh.status_code == 202 and fresh.headers["x-request-id"].isalnum()


async def test_proxied_and_gateway_routes_take_latin1_bytes_too(stack: Stack) -> None:
    routes = [
        ("GET", f"/v1/workspaces/{stack.workspace}/sources"),
        ("GET", f"/v1/sources/{stack.source['id']}"),
        ("GET", "/v1/workspaces"),
        ("GET", "/v1/audit-log"),
    ]
    for method, path in routes:
        for extra in (
            {"x-custom": LATIN},
            {"accept-language": LATIN},
            {"x-request-id": LATIN},
            {"traceparent": LATIN},
            {"cookie": b"session=" + LATIN},
            {"origin": LATIN},
            {"x-csrf-token": LATIN},
        ):
            response = await stack.public.request(method, path, headers=stack.admin | extra)
            _harmless(response)
        for anonymous_headers in ({"authorization": LATIN}, {"cookie": b"session=" + LATIN}):
            anonymous = await stack.public.request(method, path, headers=anonymous_headers)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.headers["content-type"] == "application/problem+json"
    listed = await stack.public.get(
        f"/v1/workspaces/{stack.workspace}/sources", headers=stack.admin | {"x-custom": LATIN}
    )
    assert listed.status_code == 200 and listed.json()["items"][0]["id"] == stack.source["id"]

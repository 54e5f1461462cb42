"""Webhooks reach ingest through the gateway, as they do under `sextant run`: the body
and signature headers pass through untouched, the answer comes back as ingest gave it,
and a dead ingest gives 503 quickly instead of a hang."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

from sextant.contracts import uuid7
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.ingest.main import SPEC as INGEST
from sextant.runtime.app import create_service_app
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

PUSH = {
    "ref": "refs/heads/main",
    "before": "0" * 40,
    "after": "a" * 40,
    "commits": [],
    "repository": {"id": 1, "full_name": "octo-org/octo-repo"},
    "pusher": {"name": "octocat"},
    "head_commit": {"timestamp": "2026-03-02T10:00:00Z"},
}


async def test_a_signed_webhook_is_accepted_through_the_gateway(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    settings = service_settings(database_url, internal_keys, data_dir=tmp_path)
    ingest = create_service_app(
        INGEST, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    idle = FastAPI()
    apps = {name: idle for name in UPSTREAM_SERVICES} | {"ingest": ingest}
    gateway = create_gateway(settings, upstreams=Upstreams.in_process(apps, timeout=5))
    async with asyncio.timeout(60), running_app(ingest) as direct, running_app(gateway) as public:
        token = internal_keys.signer.mint(
            service="ingest", subject="admin", role="tenant_admin", tenant_id=uuid7()
        )
        source = (
            await direct.post(
                f"/v1/workspaces/{uuid7()}/sources",
                json={"kind": "github", "name": "octo"},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        body = json.dumps(PUSH).encode()
        digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": "through-the-gateway",
            "x-hub-signature-256": f"sha256={digest}",
            "x-request-id": "req-42",
        }
        accepted = await public.post(f"/v1/hooks/{source['id']}", content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["outcome"] == "normalized"
        assert accepted.headers["x-request-id"] == "req-42"
        forged = await public.post(
            f"/v1/hooks/{source['id']}", content=body + b" ", headers=headers
        )
        assert forged.status_code == 401
        assert forged.headers["content-type"] == "application/problem+json"


async def test_a_dead_ingest_gives_503_not_a_hang(
    database_url: str, internal_keys: InternalKeys
) -> None:
    settings = service_settings(database_url, internal_keys)
    # A port held by a socket that is bound but never listens: a connection is refused at
    # once. (A port from free_port() may by then belong to a listener that never accepts,
    # as happened once in a full run: the connect then waited, and so did the test.)
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    nowhere = f"http://127.0.0.1:{dead.getsockname()[1]}"
    clients = {name: httpx.AsyncClient(base_url=nowhere, timeout=1) for name in UPSTREAM_SERVICES}
    gateway = create_gateway(settings, upstreams=Upstreams(clients))
    # The outer bound turns a hang into a failure that shows where it waited.
    async with asyncio.timeout(60), running_app(gateway) as public:
        started = time.monotonic()
        response = await public.post(
            f"/v1/hooks/{uuid7()}", content=b"{}", headers={"content-type": "application/json"}
        )
    dead.close()
    elapsed = time.monotonic() - started
    leftovers = sorted({repr(t.get_coro())[:120] for t in asyncio.all_tasks()})
    assert response.status_code == 503 and elapsed < 5, (elapsed, response.text, leftovers)
    assert response.headers["retry-after"] == "5"
    assert "ingest service is unavailable: it did not answer" in response.json()["detail"]

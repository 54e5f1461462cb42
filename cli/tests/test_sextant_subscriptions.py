"""`sextant subscriptions create|list|deliveries|delete` over real HTTP against the gateway
(which owns subscriptions): the secret printed once, the list and the delivery log read
back, a refused URL reported with the API's reason and exit 1."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner, Result

from sextant.cli.main import app
from sextant.contracts import uuid7
from sextant.contracts.events.platform import GateEvaluated
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceState
from sextant.runtime.testing.apps import served, service_settings
from sextant.runtime.testing.plugin import InternalKeys


async def sextant(*args: str) -> Result:
    """The command as a user runs it; in a thread, so the gateway keeps answering."""
    wide = {**os.environ, "COLUMNS": "250"}  # a table's URLs and ids on one line each
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=wide)


@pytest.fixture
async def gateway(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[str, ServiceState, LocalIssuer]]:
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    gateway_app = create_app(
        service_settings(
            database_url, internal_keys, egress_allow=["127.0.0.1"], egress_allow_http=True
        ),
        upstreams=Upstreams({}),
        local_issuer=issuer,
        gateway_settings=GatewaySettings(subscription_poll_seconds=0.05),
    )
    async with served(gateway_app) as url:
        yield url, gateway_app.state.service, issuer


async def test_subscriptions_are_created_listed_logged_and_deleted_from_the_command_line(
    gateway: tuple[str, ServiceState, LocalIssuer],
) -> None:
    url, state, issuer = gateway
    platform = issuer.mint(subject="ops", role="platform_admin", tenant_id=None, ttl_seconds=600)  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=url) as http:
        made = await http.post(
            "/v1/tenants", json={"name": "Acme"}, headers={"Authorization": f"Bearer {platform}"}
        )
    tenant = made.json()["id"]
    admin = issuer.mint(subject="admin", role="tenant_admin", tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
    common = ("--url", url, "--token", admin)

    received: list[bytes] = []

    async def hook(request: Request) -> Response:
        received.append(await request.body())
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with served(receiver) as receiver_url:
        created = await sextant(
            "subscriptions",
            "create",
            f"{receiver_url}/hook",
            "-e",
            "sextant.gates.evaluated.v1",
            "--description",
            "evidence",
            *common,
        )
        assert created.exit_code == 0, created.output
        subscription_id, secret = created.stdout.strip().splitlines()[-2:]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32

        listed = await sextant("subscriptions", "list", *common)
        assert listed.exit_code == 0, listed.output
        assert subscription_id in listed.stdout and receiver_url in listed.stdout
        assert secret not in listed.stdout

        event_id = await _gate_evaluated(state, UUID(tenant))
        async with asyncio.timeout(20):
            while not received:
                await asyncio.sleep(0.05)
        async with asyncio.timeout(20):
            while True:
                log = await sextant("subscriptions", "deliveries", subscription_id, *common)
                assert log.exit_code == 0, log.output
                if "delivered" in log.stdout:
                    break
                await asyncio.sleep(0.1)
        assert str(event_id) in log.stdout and "204" in log.stdout

    refused = await sextant(
        "subscriptions",
        "create",
        "https://10.0.0.5/hook",
        "-e",
        "sextant.gates.evaluated.v1",
        *common,
    )
    assert refused.exit_code == 1
    assert "body.url: 10.0.0.5 is a private address" in refused.output

    deleted = await sextant("subscriptions", "delete", subscription_id, *common)
    assert deleted.exit_code == 0, deleted.output
    gone = await sextant("subscriptions", "deliveries", subscription_id, *common)
    assert gone.exit_code == 1 and "404" in gone.output


async def _gate_evaluated(state: ServiceState, tenant: UUID) -> UUID:
    """A gate evaluation on the bus, as insights publishes it: its event id."""
    event = GateEvaluated(
        evaluation_id=uuid7(),
        scope=f"workspace:{uuid7()}",
        repository="acme/web",
        sha="a" * 40,
        environment="production",
        policy_version=0,
        verdict="pass",
        rules=[],
        requested_by="ci",
        evaluated_at=datetime.now(UTC),
    )
    async with state.db.transaction(tenant) as session:
        envelope = await state.outbox.add(session, event, tenant_id=tenant, entity="gate")
    return envelope.id

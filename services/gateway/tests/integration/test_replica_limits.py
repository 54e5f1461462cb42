"""Rate limits hold for the whole gateway: two replicas over one database, told there are
two (``SEXTANT_GATEWAY_REPLICAS``), let a tenant and a platform admin through together
no more often than the configured limit, however the load balancer alternates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
SLOW = 0.001  # a token a quarter of an hour: no refill during the test


def bearer(role: str, tenant: str | None = None, subject: str = "someone") -> dict[str, str]:
    token = ISSUER.mint(subject=subject, role=role, tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def gateway(
    database_url: str, internal_keys: InternalKeys, **limits: float
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two replicas of the gateway, each configured as the chart would: replicas=2."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(
                service_settings(database_url, internal_keys),
                upstreams=Upstreams.in_process({}, timeout=1),
                gateway_settings=GatewaySettings(replicas=2, **limits),  # type: ignore[arg-type]
                local_issuer=ISSUER,
            )
            clients.append(await stack.enter_async_context(running_app(app)))
        yield clients


async def alternating(
    replicas: list[httpx.AsyncClient], path: str, headers: dict[str, str], count: int
) -> list[int]:
    """``count`` requests, round-robin over the replicas as a load balancer sends them."""
    return [
        (await replicas[i % len(replicas)].get(path, headers=headers)).status_code
        for i in range(count)
    ]


async def test_a_platform_admin_gets_the_configured_burst_across_both_replicas(
    database_url: str, internal_keys: InternalKeys
) -> None:
    limits = {"admin_burst": 6, "admin_rate_per_second": SLOW}
    async with gateway(database_url, internal_keys, **limits) as replicas:
        root = bearer("platform_admin", subject="root")
        assert await alternating(replicas, "/v1/me", root, 8) == [200] * 6 + [429] * 2


async def test_a_tenant_gets_the_configured_burst_across_both_replicas(
    database_url: str, internal_keys: InternalKeys
) -> None:
    limits = {"tenant_burst": 10, "tenant_rate_per_second": SLOW}
    async with gateway(database_url, internal_keys, **limits) as replicas:
        made = await replicas[0].post(
            "/v1/tenants", json={"name": "Acme"}, headers=bearer("platform_admin")
        )
        assert made.status_code == 201, made.text
        manager = bearer("manager", made.json()["id"])
        assert await alternating(replicas, "/v1/me", manager, 12) == [200] * 10 + [429] * 2

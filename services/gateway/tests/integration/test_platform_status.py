"""GET /v1/status never hangs on a dead service (the all-ready case runs in cli/tests)."""

import asyncio
import time

import httpx
from fastapi import FastAPI

from sextant.gateway.main import spec
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams
from sextant.runtime.app import create_service_app
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus


async def test_status_names_an_unreachable_service_quickly(
    database_url: str, internal_keys: InternalKeys
) -> None:
    settings = service_settings(database_url, internal_keys)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    clients = {name: httpx.AsyncClient(base_url=nowhere, timeout=1) for name in UPSTREAM_SERVICES}
    gateway = create_service_app(
        spec(Upstreams(clients)),
        settings,
        bus_factory=lambda: create_bus(settings),
        configure_logs=False,
    )
    async with running_app(gateway) as client:
        started = time.monotonic()
        response = await client.get("/v1/status")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["health"] == "unavailable"  # nothing behind the gateway answers
    assert body["services"]["gateway"]["ready"] is True
    assert body["services"]["gateway"]["detail"] == "all 5 checks pass"
    assert body["services"]["ingest"] == {
        "ready": False,
        "detail": "unreachable: ConnectError",
        "checks": None,
    }
    assert elapsed < 5, "a dead upstream must not make the status call hang"


async def test_status_does_not_wait_on_a_hung_in_process_service(
    database_url: str, internal_keys: InternalKeys
) -> None:
    hung = FastAPI()

    @hung.get("/readyz")
    async def never_answers() -> None:
        await asyncio.sleep(60)

    settings = service_settings(database_url, internal_keys)
    upstreams = Upstreams.in_process({name: hung for name in UPSTREAM_SERVICES}, timeout=0.5)
    gateway = create_service_app(
        spec(upstreams), settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    async with running_app(gateway) as client:
        started = time.monotonic()
        response = await client.get("/v1/status")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["services"]["reports"]["detail"] == "unreachable: TimeoutError"
    assert elapsed < 3, "the ASGI transport ignores httpx timeouts; the gateway must not"


async def test_a_server_answering_200_to_anything_is_not_called_ready(
    database_url: str, internal_keys: InternalKeys
) -> None:
    """A service URL that points at some other server (which answers 200 to everything)
    must not read as a ready service: a Sextant service lists its checks."""
    anything = FastAPI()

    @anything.get("/{path:path}")
    async def ok(path: str) -> dict[str, str]:
        return {"status": "ok"}

    settings = service_settings(database_url, internal_keys)
    upstreams = Upstreams.in_process({name: anything for name in UPSTREAM_SERVICES}, timeout=2)
    gateway = create_service_app(
        spec(upstreams), settings, bus_factory=lambda: create_bus(settings), configure_logs=False
    )
    async with running_app(gateway) as client:
        response = await client.get("/v1/status")
    assert response.status_code == 503
    assert response.json()["services"]["ingest"] == {
        "ready": False,
        "detail": "answered 200 without its checks: not a Sextant service",
        "checks": None,
    }

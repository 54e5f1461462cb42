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
    assert body["services"]["gateway"]["ready"] is True
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

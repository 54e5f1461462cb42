"""Running a service app in a test: real database, real bus, in-process HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from sextant.runtime.app import ServiceSpec, ServiceState, create_service_app
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.plugin import InternalKeys
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

"""The gateway: the only public door for frontends, the CLI and partners."""

from __future__ import annotations

from fastapi import FastAPI

from sextant.gateway import api
from sextant.gateway.db import MIGRATIONS, metadata
from sextant.gateway.handlers import HANDLERS
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceSpec, ServiceState, create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import create_bus, create_object_store


def spec(
    upstreams: Upstreams | None = None, settings: GatewaySettings | None = None
) -> ServiceSpec:
    """The gateway's spec; ``upstreams`` is given when embedded, else built from settings."""

    async def open_upstreams(state: ServiceState) -> None:
        gateway_settings = settings or GatewaySettings()
        state.extras["upstreams"] = upstreams or Upstreams.over_http(
            gateway_settings.service_urls, gateway_settings.upstream_timeout_seconds
        )

    async def close_upstreams(state: ServiceState) -> None:
        await state.extras["upstreams"].close()

    return ServiceSpec(
        name="gateway",
        description="Authentication, tenancy, routing to services, audit log, notifications.",
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        public_routers=[api.public_router, api.events_router, api.hooks_router],
        handlers=HANDLERS,
        on_start=[open_upstreams],
        on_stop=[close_upstreams],
    )


def create_app(
    settings: RuntimeSettings | None = None,
    *,
    upstreams: Upstreams | None = None,
    bus: EventBus | None = None,
) -> FastAPI:
    """Build the gateway; the embedded mode passes in-process upstreams and the shared bus."""
    settings = settings or RuntimeSettings()
    shared_bus = bus
    return create_service_app(
        spec(upstreams),
        settings,
        bus_factory=(lambda: shared_bus) if shared_bus else (lambda: create_bus(settings)),
        owns_bus=shared_bus is None,
        objects=create_object_store(settings),
    )

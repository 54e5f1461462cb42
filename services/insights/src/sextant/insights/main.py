"""The insights service. DORA, flow and review metrics, developer trends, team-health suggestions."""

from fastapi import FastAPI

from sextant.insights import api
from sextant.insights.db import MIGRATIONS, metadata
from sextant.insights.handlers import HANDLERS
from sextant.runtime.app import ServiceSpec, create_service_app
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import create_bus, create_object_store

SPEC = ServiceSpec(
    name="insights",
    description="Metrics, DeveloperMetrics history, suggestions and feedback.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router],
    handlers=HANDLERS,
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the insights app for a standalone (distributed) deployment."""
    settings = settings or RuntimeSettings()
    return create_service_app(
        SPEC,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=create_object_store(settings),
    )

"""The archive service. retention policies, the cold store, legal holds."""

from fastapi import FastAPI

from sextant.archive import api
from sextant.archive.db import MIGRATIONS, metadata
from sextant.archive.handlers import handlers
from sextant.runtime.app import ServiceSpec, create_service_app
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import create_bus, create_object_store

SPEC = ServiceSpec(
    name="archive",
    description="Cold-store manifests, retention, restore, legal holds.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router],
    handlers=handlers(),
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the archive app for a standalone (distributed) deployment."""
    settings = settings or RuntimeSettings()
    return create_service_app(
        SPEC,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=create_object_store(settings),
    )

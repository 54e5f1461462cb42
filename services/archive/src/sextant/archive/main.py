"""The archive service: retention policies, the cold store, legal holds."""

from fastapi import FastAPI

from sextant.archive import api, coldstore, purging, restoring
from sextant.archive.db import MIGRATIONS, metadata
from sextant.archive.handlers import handlers
from sextant.runtime.app import ServiceSpec
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="archive",
    description="Cold-store manifests, retention, restore, legal holds.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router],
    handlers=handlers(),
    # a backlog's poll brings whole parts' worth of a partition (see handlers.BATCH)
    consumer_max_records=100_000,
    on_start=[coldstore.start, purging.start, restoring.start],
    on_stop=[coldstore.stop, purging.stop, restoring.stop],
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the archive app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

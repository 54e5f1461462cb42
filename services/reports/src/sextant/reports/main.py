"""The reports service: PDF and CSV reports, on demand and on schedule."""

from fastapi import FastAPI

from sextant.reports import (
    api,
    branding_api,
    grants_api,
    render,
    retention,
    schedule_api,
    scheduler,
)
from sextant.reports.db import MIGRATIONS, metadata
from sextant.reports.handlers import HANDLERS
from sextant.runtime.app import ServiceSpec
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="reports",
    description="Report definitions, jobs, schedules, rendered files.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router, schedule_api.router, branding_api.router, grants_api.router],
    handlers=with_purge(HANDLERS, retention.PURGER),
    on_start=[render.start, scheduler.start],
    on_stop=[scheduler.stop, render.stop],
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the reports app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

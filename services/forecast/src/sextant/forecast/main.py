"""The forecast service: work-item history, Monte Carlo forecasts, stale work."""

from fastapi import FastAPI

from sextant.forecast import api, retention, stale_scan
from sextant.forecast.db import MIGRATIONS, metadata
from sextant.forecast.handlers import HANDLERS
from sextant.runtime.app import ServiceSpec
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="forecast",
    description="Work-item history, Monte Carlo forecasts with calibration, stale work.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router],
    handlers=with_purge(HANDLERS, retention.PURGER),
    on_start=[stale_scan.start],
    on_stop=[stale_scan.stop],
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the forecast app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

"""The insights service: DORA, flow and review metrics, trends, team-health suggestions."""

from fastapi import FastAPI

from sextant.insights import (
    api,
    day_worker,
    developer_metrics,
    flow_metrics,
    metrics,
    retention,
    team_metrics,
)
from sextant.insights.db import MIGRATIONS, metadata
from sextant.insights.gates import api as gates_api
from sextant.insights.handlers import HANDLERS
from sextant.insights.health import api as health_api
from sextant.insights.health import service as health
from sextant.runtime.app import ServiceSpec
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="insights",
    description="Metrics, DeveloperMetrics history, suggestions and feedback.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[
        api.router,
        metrics.router,
        flow_metrics.router,
        developer_metrics.router,
        team_metrics.router,
        gates_api.router,
        health_api.router,
    ],
    handlers=with_purge(HANDLERS, retention.PURGER),
    # a backlog's batches of ~100 events over its 32 partitions, not ~16: each batch writes
    # a few statements per table whatever its size (bench_rebuild: +35% events/s, measured
    # when batches still derived; not measured again since the derivation queue)
    consumer_max_records=3200,
    on_start=[health.start, day_worker.start],
    on_stop=[day_worker.stop, health.stop],
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the insights app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

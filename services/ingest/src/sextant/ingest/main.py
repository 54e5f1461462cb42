"""The ingest service: signed webhooks and backfills, normalized into activity events."""

from fastapi import FastAPI

from sextant.ingest import api, checks, commits, jira_oauth, retention, service
from sextant.ingest.db import MIGRATIONS, metadata
from sextant.ingest.handlers import HANDLERS
from sextant.runtime.app import ServiceSpec
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="ingest",
    description="Webhooks from GitHub, GitLab, Jira and generic pushes; backfill and replay.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router, api.internal],
    public_routers=[api.hooks, api.callbacks],
    hot_routes=[api.hook_route()],
    handlers=with_purge(HANDLERS, retention.PURGER),
    on_start=[service.start, jira_oauth.start_refresher, checks.start, commits.start],
    on_stop=[service.stop, jira_oauth.stop_refresher, checks.stop, commits.stop],  # run in reverse
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the ingest app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

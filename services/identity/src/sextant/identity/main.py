"""The identity service: one developer across GitHub, GitLab, Jira and git."""

from fastapi import FastAPI

from sextant.identity import api, retention, revisiting
from sextant.identity.db import MIGRATIONS, metadata
from sextant.identity.handlers import HANDLERS
from sextant.runtime.app import ServiceSpec
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.wiring import standalone_app

SPEC = ServiceSpec(
    name="identity",
    description="Aliases, scored matching, merge suggestions, merge/split.",
    metadata=metadata,
    migrations_dir=MIGRATIONS,
    routers=[api.router],
    handlers=with_purge(HANDLERS, retention.PURGER),
    on_start=[revisiting.start],
    on_stop=[revisiting.stop],
)


def create_app(settings: RuntimeSettings | None = None) -> FastAPI:
    """Build the identity app for a standalone (distributed) deployment."""
    return standalone_app(SPEC, settings)

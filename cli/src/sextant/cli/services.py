"""The one list of Sextant's services, as the CLI runs them."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from sextant.archive.main import SPEC as ARCHIVE
from sextant.archive.main import create_app as archive_app
from sextant.forecast.main import SPEC as FORECAST
from sextant.forecast.main import create_app as forecast_app
from sextant.gateway.main import create_app as gateway_app
from sextant.gateway.main import spec as gateway_spec
from sextant.identity.main import SPEC as IDENTITY
from sextant.identity.main import create_app as identity_app
from sextant.ingest.main import SPEC as INGEST
from sextant.ingest.main import create_app as ingest_app
from sextant.insights.main import SPEC as INSIGHTS
from sextant.insights.main import create_app as insights_app
from sextant.reports.main import SPEC as REPORTS
from sextant.reports.main import create_app as reports_app
from sextant.runtime.app import ServiceSpec

# Everything behind the gateway, in the order they start.
UPSTREAM_SPECS: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (INGEST, IDENTITY, FORECAST, INSIGHTS, ARCHIVE, REPORTS)
}
SERVICE_NAMES = ("gateway", *UPSTREAM_SPECS)

# Each service's own app factory, settings from the environment: the gateway's installs its
# edge (cross-tenant paths, body limit, CORS), the same one the embedded mode builds.
_APPS: dict[str, Callable[[], FastAPI]] = {
    "gateway": gateway_app,
    "ingest": ingest_app,
    "identity": identity_app,
    "forecast": forecast_app,
    "insights": insights_app,
    "archive": archive_app,
    "reports": reports_app,
}


def spec_for(name: str) -> ServiceSpec:
    """The spec of a service by name (the gateway's builds its upstreams from settings)."""
    if name == "gateway":
        return gateway_spec()
    try:
        return UPSTREAM_SPECS[name]
    except KeyError:
        raise ValueError(_unknown(name)) from None


def app_for(name: str) -> FastAPI:
    """The app ``sextant serve`` runs for a service: its own ``create_app``, as a pod would."""
    try:
        factory = _APPS[name]
    except KeyError:
        raise ValueError(_unknown(name)) from None
    return factory()


def _unknown(name: str) -> str:
    return f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)}"

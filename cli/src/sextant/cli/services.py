"""The one list of Sextant's services, as the CLI runs them."""

from __future__ import annotations

from sextant.archive.main import SPEC as ARCHIVE
from sextant.forecast.main import SPEC as FORECAST
from sextant.gateway.main import spec as gateway_spec
from sextant.identity.main import SPEC as IDENTITY
from sextant.ingest.main import SPEC as INGEST
from sextant.insights.main import SPEC as INSIGHTS
from sextant.reports.main import SPEC as REPORTS
from sextant.runtime.app import ServiceSpec

# Everything behind the gateway, in the order they start.
UPSTREAM_SPECS: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (INGEST, IDENTITY, FORECAST, INSIGHTS, ARCHIVE, REPORTS)
}
SERVICE_NAMES = ("gateway", *UPSTREAM_SPECS)


def spec_for(name: str) -> ServiceSpec:
    """The spec of a service by name (the gateway's builds its upstreams from settings)."""
    if name == "gateway":
        return gateway_spec()
    try:
        return UPSTREAM_SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)}"
        ) from None

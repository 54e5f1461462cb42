"""Every public route a service declares is reachable through the gateway's routing
table, and nothing the gateway routes lands on a service that does not serve it."""

from __future__ import annotations

from sextant.cli.services import UPSTREAM_SPECS
from sextant.gateway.domain.routes import route_for
from sextant.runtime.app import create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import generate_keypair

# Webhooks and OAuth callbacks carry no bearer: the gateway's own routes pass them on.
NOT_PUBLIC = ("/healthz", "/readyz", "/metrics", "/internal/", "/v1/hooks/", "/v1/oauth/")


def test_every_service_route_is_routed_to_that_service() -> None:
    settings = RuntimeSettings(
        database_url="postgresql://unused@127.0.0.1:1/unused",
        internal_token_public_key=generate_keypair()[1],
    )
    unrouted, checked = [], 0
    for name, spec in UPSTREAM_SPECS.items():

        def no_bus() -> EventBus:
            raise AssertionError("the OpenAPI document needs no bus")

        app = create_service_app(spec, settings, bus_factory=no_bus, configure_logs=False)
        for path in app.openapi()["paths"]:
            if path.startswith(NOT_PUBLIC):
                continue
            checked += 1
            match = route_for(path)
            if match is None or match.service != name:
                unrouted.append((name, path, match.service if match else None))
    assert checked >= 20 and unrouted == []

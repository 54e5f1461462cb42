"""The gateway: the only public door for frontends, the CLI and partners."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from sextant.gateway import retention
from sextant.gateway import subscriptions as webhook_deliveries
from sextant.gateway.access import BodyLimit, CrossTenantPaths, Gateway
from sextant.gateway.api import (
    audit,
    auth,
    internal,
    keys,
    notifications,
    oauth,
    platform,
    portal,
    proxy,
    session,
    subscriptions,
    tenancy,
)
from sextant.gateway.authn import Authenticator, LocalIssuer
from sextant.gateway.db import MIGRATIONS, metadata
from sextant.gateway.domain.cache import TtlCache
from sextant.gateway.domain.limits import TokenBuckets, replica_share
from sextant.gateway.handlers import HANDLERS
from sextant.gateway.notifications import NotificationHub
from sextant.gateway.oidc import OidcSignIn
from sextant.gateway.revocation import close_revocations, open_revocations
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceSpec, ServiceState, create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.db import plain_dsn
from sextant.runtime.egress import egress_policy
from sextant.runtime.purge import with_purge
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tokens import InternalTokenSigner, load_private_key
from sextant.runtime.tracing import TraceExport
from sextant.runtime.wiring import create_bus, create_object_store


def spec(
    upstreams: Upstreams | None = None,
    settings: GatewaySettings | None = None,
    local_issuer: LocalIssuer | None = None,
) -> ServiceSpec:
    """The gateway's spec; ``upstreams`` is given when embedded, else built from settings."""

    async def open_gateway(state: ServiceState) -> None:
        gateway_settings = settings or GatewaySettings()
        private_key = state.settings.internal_token_private_key
        if private_key is None:
            raise ValueError(
                "the gateway needs SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY to call services"
            )
        calls = upstreams or Upstreams.over_http(
            gateway_settings.service_urls, gateway_settings.upstream_timeout_seconds
        )
        calls.configure(
            retries=gateway_settings.upstream_retries,
            breaker_failures=gateway_settings.breaker_failures,
            breaker_cooldown=gateway_settings.breaker_cooldown_seconds,
            probe_deadline=gateway_settings.breaker_probe_deadline_seconds,
            breaker_keys=gateway_settings.breaker_max_keys,
        )
        replicas = gateway_settings.replicas

        def share(rate: float, burst: float) -> TokenBuckets:
            return replica_share(rate, burst, replicas)

        issuer = local_issuer
        if issuer is None and gateway_settings.local_issuer_private_key is not None:
            issuer = LocalIssuer.from_pem(
                gateway_settings.local_issuer_private_key.get_secret_value()
            )
        authenticator = Authenticator(gateway_settings, state.db, issuer)
        state.extras["oidc_sign_in"] = OidcSignIn(
            gateway_settings,
            state.db,
            authenticator,
            egress_policy(state.settings),
            webhook_deliveries.gateway_box(state.settings, gateway_settings),
        )
        state.extras["gateway"] = Gateway(
            settings=gateway_settings,
            authenticator=authenticator,
            local_issuer=issuer,
            signer=InternalTokenSigner(load_private_key(private_key.get_secret_value())),
            upstreams=calls,
            tenant_buckets=share(
                gateway_settings.tenant_rate_per_second, gateway_settings.tenant_burst
            ),
            scopes=TtlCache(gateway_settings.api_key_cache_seconds),
            key_buckets=share(gateway_settings.key_rate_per_second, gateway_settings.key_burst),
            anonymous_buckets=share(
                gateway_settings.anonymous_failure_rate_per_second,
                gateway_settings.anonymous_failure_burst,
            ),
            admin_buckets=share(
                gateway_settings.admin_rate_per_second, gateway_settings.admin_burst
            ),
            source_buckets=share(
                gateway_settings.webhook_source_rate_per_second,
                gateway_settings.webhook_source_burst,
            ),
        )
        hub = NotificationHub(plain_dsn(state.db.app_url))
        await hub.start()
        state.extras["notification_hub"] = hub
        await open_revocations(state, plain_dsn(state.db.app_url))
        await webhook_deliveries.start(state, gateway_settings)

    async def close_gateway(state: ServiceState) -> None:
        await webhook_deliveries.stop(state)
        await close_revocations(state)
        await state.extras["notification_hub"].stop()
        gateway: Gateway = state.extras["gateway"]
        await gateway.authenticator.close()
        await state.extras["oidc_sign_in"].close()
        await gateway.upstreams.close()

    return ServiceSpec(
        name="gateway",
        description="Authentication, tenancy, routing to services, audit log, notifications.",
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        routers=[internal.router],  # behind the internal token: other services' reads
        public_routers=[
            platform.public_router,
            platform.docs_router,
            platform.events_router,
            platform.hooks_router,
            tenancy.router,
            keys.router,
            audit.router,
            notifications.router,
            subscriptions.router,
            oauth.router,
            session.router,
            auth.router,
            proxy.router,  # it takes every /v1 path the others do not
            portal.router,  # last: every path nothing else answers, but the platform's own
        ],
        hot_routes=[platform.hook_route()],
        handlers=with_purge(HANDLERS, retention.PURGER),
        on_start=[open_gateway],
        on_stop=[close_gateway],
        openapi_url=None,
    )


def create_app(
    settings: RuntimeSettings | None = None,
    *,
    upstreams: Upstreams | None = None,
    bus: EventBus | None = None,
    gateway_settings: GatewaySettings | None = None,
    local_issuer: LocalIssuer | None = None,
    trace_export: TraceExport | None = None,
) -> FastAPI:
    """Build the gateway; the embedded mode passes in-process upstreams, the shared bus
    and the process's span pipeline."""
    settings = settings or RuntimeSettings()
    gateway_settings = gateway_settings or GatewaySettings()
    shared_bus = bus
    app = create_service_app(
        spec(upstreams, gateway_settings, local_issuer),
        settings,
        bus_factory=(lambda: shared_bus) if shared_bus else (lambda: create_bus(settings)),
        owns_bus=shared_bus is None,
        objects=create_object_store(settings),
        trace_export=trace_export,
    )
    install_edge(app, gateway_settings)
    return app


def install_edge(app: FastAPI, settings: GatewaySettings) -> None:
    """What only the public edge has: CORS, body limits, the cross-tenant path rewrite."""
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(CrossTenantPaths)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )

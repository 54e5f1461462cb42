"""Gateway settings (prefix ``SEXTANT_GATEWAY_``); shared ones live in RuntimeSettings."""

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class TrustedIssuer(BaseModel):
    """An OIDC provider whose bearer tokens the gateway accepts."""

    issuer: str = Field(description="the exact `iss` its tokens carry")
    audience: str = Field(description="the `aud` a token for Sextant must carry")
    jwks_uri: str = Field(description="where its signing keys are published")
    tenant_claim: str = Field(default="sextant_tenant", description="claim naming the tenant id")
    role_claim: str = Field(default="sextant_role", description="claim naming the role")


class OidcProvider(BaseModel):
    """An OIDC provider the portal's users sign in with (authorization code with PKCE).

    Its endpoints come from its discovery document (``<issuer>/.well-known/openid-
    configuration``); its ID tokens name the user's role and tenant in the same claims a
    bearer token of a trusted issuer does."""

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="the provider's name in the sign-in URLs (/v1/auth/oidc/<name>/login)",
    )
    display_name: str = Field(
        min_length=1, max_length=80, description='what the portal\'s button says: "Sign in with …"'
    )
    issuer: str = Field(description="the exact `iss` of its ID tokens; discovery is found under it")
    client_id: str = Field(min_length=1, description="Sextant's client id at the provider")
    client_secret: SecretStr | None = Field(
        default=None,
        description="the client secret (a confidential client: client_secret_basic); unset: "
        "a public client, PKCE alone",
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="scopes asked for; openid is always added",
    )
    tenant_claim: str = Field(default="sextant_tenant", description="claim naming the tenant id")
    role_claim: str = Field(default="sextant_role", description="claim naming the role")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_GATEWAY_", extra="ignore")

    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description='distributed mode: {"ingest": "http://ingest:8000", ...} (a JSON map)',
    )
    upstream_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long a call to a service may take, each try"
    )
    upstream_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="retries of a call to a service that failed to answer; idempotent methods only",
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures of one (service, tenant or source)"
    )
    breaker_cooldown_seconds: float = Field(
        default=10.0, gt=0, description="how long an open breaker answers 503 before a probe"
    )

    issuers: list[TrustedIssuer] = Field(
        default_factory=list,
        description="OIDC providers whose tokens are accepted, a JSON list of "
        '{"issuer", "audience", "jwks_uri", "tenant_claim", "role_claim"}',
    )
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="clock skew allowed on a token's exp and nbf"
    )
    jwks_refresh_min_seconds: float = Field(
        default=30.0, ge=0, description="an unknown kid refetches a JWKS at most this often"
    )
    local_issuer_private_key: SecretStr | None = Field(
        default=None,
        description="PEM (Ed25519) of the built-in issuer; the embedded mode makes one",
    )

    session_ttl_seconds: int = Field(
        default=8 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="how long a browser's sign-in session lasts (the portal's cookie); "
        "sign-out ends it at once",
    )
    oidc_providers: list[OidcProvider] = Field(
        default_factory=list,
        description="OIDC providers the portal signs in with (authorization code with PKCE), a "
        'JSON list of {"name", "display_name", "issuer", "client_id", "client_secret", '
        '"scopes", "tenant_claim", "role_claim"}; empty: the one-time link only',
    )
    oidc_redirect_base: str | None = Field(
        default=None,
        description="the gateway's public base URL (https://sextant.example.com): the "
        "callback registered at each provider is <base>/v1/auth/oidc/<name>/callback; "
        "unset: the base URL the browser used for the login",
    )
    oidc_state_seconds: int = Field(
        default=600,
        ge=60,
        le=3600,
        description="how long a started OIDC sign-in may take at the provider before its "
        "state is refused",
    )
    web_dist: Path | None = Field(
        default=None,
        description="the built web portal served at / (web/dist); unset: the source "
        "tree's web/dist, which `make run` builds",
    )

    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=30,
        description="how long a replica believes a verified key, a live tenant or a resolved "
        "scope without asking the database; revocations and deletions do not wait for it "
        "(they are pushed to every replica)",
    )
    revocation_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="how long a revoke or delete call waits to hear its own invalidation "
        "back (by then every replica has been sent it); a replica that does not hear it "
        "trusts no cache meanwhile",
    )
    replicas: int = Field(
        default=1,
        ge=1,
        description="gateway replicas behind the load balancer (the chart sets it): each "
        "keeps 1/replicas of every rate and burst below, so the limits hold for the whole "
        "gateway",
    )
    tenant_rate_per_second: float = Field(
        default=200.0, gt=0, description="requests a second per tenant, all its callers"
    )
    tenant_burst: float = Field(default=400.0, ge=1, description="a tenant's burst allowance")
    key_rate_per_second: float = Field(
        default=50.0, gt=0, description="requests a second per API key"
    )
    key_burst: float = Field(default=100.0, ge=1, description="an API key's burst allowance")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="public API bodies (webhooks follow ingest's)"
    )
    cors_origins: list[str] = Field(default_factory=list, description="a JSON list; empty: none")
    soft_delete_grace_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="how long a soft-deleted tenant or workspace can be restored before purge",
    )

    # Isolation and abuse limits (issue #25): breakers per caller key, webhook intake,
    # limits on callers that are not (yet) authenticated. Rates are for the whole gateway
    # (each replica keeps its share: see ``replicas``).
    breaker_probe_deadline_seconds: float = Field(
        default=45.0, gt=0, description="a half-open probe out longer is presumed stuck"
    )
    breaker_max_keys: int = Field(
        default=100_000, ge=100, description="breakers kept (least recently used forgotten)"
    )
    webhook_max_body_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="ingest's max_body_bytes, mirrored"
    )
    webhook_body_grace_seconds: float = Field(
        default=5.0, gt=0, description="a webhook body may arrive at any pace this long"
    )
    webhook_body_min_bytes_per_second: float = Field(
        default=32 * 1024, gt=0, description="then on average at least this fast, else 408"
    )
    webhook_source_rate_per_second: float = Field(
        default=100.0, gt=0, description="webhook deliveries a second per source"
    )
    webhook_source_burst: float = Field(
        default=1000.0, ge=1, description="a webhook source's burst allowance"
    )
    anonymous_failure_rate_per_second: float = Field(
        default=2.0,
        gt=0,
        description="per client address: failed authentications, too-slow uploads, "
        "refused webhooks (once per source); per (source, address): refused webhooks",
    )
    anonymous_failure_burst: float = Field(
        default=30.0, ge=1, description="failures allowed at once per address (and pair)"
    )
    admin_rate_per_second: float = Field(default=20.0, gt=0, description="per platform admin")
    admin_burst: float = Field(default=60.0, ge=1, description="a platform admin's burst")
    trusted_proxies: int = Field(
        default=0,
        ge=0,
        le=10,
        description="proxies in front whose X-Forwarded-For is believed; 0: the peer address",
    )

    # Partner subscriptions: signed outbound webhooks (sextant.gateway.subscriptions).
    secret_keys: SecretStr | None = Field(
        default=None,
        description="keys that seal partner subscriptions' signing secrets and OIDC sign-ins' "
        "PKCE verifiers at rest, as "
        "`id:base64key,...` (each key 32 random bytes): the first seals, every one opens what "
        "it sealed; rotate by putting a new key first and restarting (the gateway reseals on "
        "start), then removing the old one. Required when distributed; the embedded mode keeps "
        "a key file under the data dir",
    )
    subscription_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="how long one delivery to a subscriber may take, connecting included",
    )
    subscription_max_attempts: int = Field(
        default=8, ge=1, le=20, description="tries of one delivery before it is marked failed"
    )
    subscription_backoff_seconds: float = Field(
        default=5.0,
        gt=0,
        description="the first retry waits up to this (full jitter), each next one twice as long",
    )
    subscription_backoff_cap_seconds: float = Field(
        default=3600.0, gt=0, description="no retry waits longer than this"
    )
    subscription_disable_after: int = Field(
        default=20,
        ge=1,
        description="consecutive failed attempts (over all its deliveries) after which a "
        "subscription is disabled and the tenant's admins notified",
    )
    subscription_concurrency: int = Field(
        default=32, ge=1, le=512, description="deliveries in flight at once, per gateway replica"
    )
    subscription_concurrency_per_subscription: int = Field(
        default=2,
        ge=1,
        le=32,
        description="deliveries in flight at once to one subscription, over all replicas: a "
        "slow or dead receiver holds no more than this",
    )
    subscription_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often an idle delivery worker looks for due deliveries"
    )

"""The portal's sign-in with an OIDC provider: authorization code with PKCE.

1. ``login``: a random ``state`` (kept as its SHA-256 with the PKCE verifier, sealed
   with the gateway's key as subscription secrets are, and the nonce, single-use,
   ``oidc_state_seconds``), and the provider's authorization URL
   (from its discovery document) to send the browser to. The state also goes into a
   short-lived HttpOnly cookie, so only the browser that started a sign-in can finish it
   (no login CSRF with someone else's code).
2. ``finish``: the callback's state must match the cookie and is claimed once, whatever
   comes next; the code is exchanged (with the client secret when one is set, and the
   verifier), the ID token checked (:mod:`sextant.gateway.domain.oidc`) and its claims
   mapped to a caller as a trusted issuer's bearer token is (role and tenant claims).

Every request to a provider goes through the runtime's egress policy (https to public
addresses unless the operator allows more); discovery documents and JWKS are cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import jwt
import structlog

from sextant.gateway.authn import Authenticator, Principal, principal_from_claims
from sextant.gateway.db import oidc as store
from sextant.gateway.domain.oidc import (
    Discovery,
    DiscoveryInvalid,
    IdTokenRefused,
    authorization_url,
    signing_key,
    verified_claims,
)
from sextant.gateway.settings import GatewaySettings, OidcProvider
from sextant.runtime.db import Database
from sextant.runtime.egress import EgressPolicy, egress_client
from sextant.runtime.errors import DomainError, Forbidden, NotFound
from sextant.runtime.pkce import pkce_pair
from sextant.runtime.sealing import SecretBox

log = structlog.get_logger()

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_TTL_SECONDS = 3600.0  # providers rotate endpoints rarely; keys are refetched apart
PROVIDER_TIMEOUT = httpx.Timeout(10.0)


class SignInRefused(DomainError):
    """A sign-in the gateway will not finish: bad, replayed or expired state, the user
    declined, the code or the ID token refused. The portal shows the detail."""

    status, title, type_slug = 401, "Sign-in refused", "sign-in-refused"


class ProviderFailed(DomainError):
    """The provider is unreachable or answered what the flow cannot use."""

    status, title, type_slug = 502, "Bad gateway", "identity-provider-failed"


@dataclass(frozen=True)
class Started:
    authorize_url: str
    state: str


@dataclass
class _Known:
    """A provider's cached discovery document and signing keys."""

    discovery: Discovery | None = None
    discovered_at: float = 0.0
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    keys_fetched_at: float = float("-inf")


def state_digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def verifier_bound_to(digest: bytes) -> UUID:
    """What a sign-in's sealed verifier is bound to (its row's state digest, cut to the
    16 bytes the seal takes): a verifier copied onto another sign-in does not open."""
    return UUID(bytes=digest[:16])


def callback_path(provider: str) -> str:
    return f"/v1/auth/oidc/{provider}/callback"


class OidcSignIn:
    """The configured providers and the flow against them."""

    def __init__(
        self,
        settings: GatewaySettings,
        db: Database,
        authenticator: Authenticator,
        policy: EgressPolicy,
        box: SecretBox,
    ) -> None:
        self._settings = settings
        self._db = db
        self._box = box
        self._authenticator = authenticator
        self._http = egress_client(policy, timeout=PROVIDER_TIMEOUT)
        self.providers = {p.name: p for p in settings.oidc_providers}
        self._known = {name: _Known() for name in self.providers}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    def provider(self, name: str) -> OidcProvider:
        found = self.providers.get(name)
        if found is None:
            raise NotFound(f"provider: no OIDC provider {name!r} is configured")
        return found

    def redirect_uri(self, provider: str, request_base: str) -> str:
        """The callback registered at the provider: under ``oidc_redirect_base`` when
        set, else under the base URL the browser used."""
        base = self._settings.oidc_redirect_base or request_base
        return f"{base.rstrip('/')}{callback_path(provider)}"

    # provider documents -------------------------------------------------------------------

    async def _get_json(self, provider: OidcProvider, url: str, what: str) -> Any:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("oidc.provider_unreachable", provider=provider.name, what=what)
            raise ProviderFailed(
                f"{provider.display_name} is unreachable ({what}: {type(exc).__name__}); "
                "try again shortly"
            ) from None
        if response.status_code != 200:
            raise ProviderFailed(
                f"{provider.display_name} answered {response.status_code} to its {what}; "
                "try again shortly"
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderFailed(f"{provider.display_name}'s {what} is not JSON") from None

    async def discovery(self, provider: OidcProvider) -> Discovery:
        known = self._known[provider.name]
        now = time.monotonic()
        if known.discovery is not None and now - known.discovered_at < DISCOVERY_TTL_SECONDS:
            return known.discovery
        url = f"{provider.issuer.rstrip('/')}{DISCOVERY_PATH}"
        document = await self._get_json(provider, url, "discovery document")
        try:
            known.discovery = Discovery.parse(document, provider.issuer)
        except DiscoveryInvalid as exc:
            raise ProviderFailed(f"{provider.display_name}: {exc}") from None
        known.discovered_at = now
        return known.discovery

    async def _key(self, provider: OidcProvider, id_token: str) -> jwt.PyJWK:
        """The key that signed ``id_token``: from the cached JWKS, refetched once (at most
        every ``jwks_refresh_min_seconds``) when it is not there — a rotated key."""
        known = self._known[provider.name]
        key = signing_key(id_token, known.keys)
        if key is not None:
            return key
        async with self._lock:
            since = time.monotonic() - known.keys_fetched_at
            if since >= self._settings.jwks_refresh_min_seconds:
                discovery = await self.discovery(provider)
                document = await self._get_json(provider, discovery.jwks_uri, "JWKS")
                try:
                    keys = jwt.PyJWKSet.from_dict(document).keys
                except jwt.PyJWTError as exc:
                    raise ProviderFailed(f"{provider.display_name}'s JWKS: {exc}") from None
                known.keys = {k.key_id or "": k for k in keys if k.algorithm_name}
                known.keys_fetched_at = time.monotonic()
        key = signing_key(id_token, known.keys)
        if key is None:
            raise SignInRefused("the ID token is signed with a key its provider does not publish")
        return key

    # the flow -----------------------------------------------------------------------------

    async def start(self, provider: OidcProvider, redirect_uri: str) -> Started:
        discovery = await self.discovery(provider)
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        digest = state_digest(state)
        row = store.OidcSignInRow(
            state_sha256=digest,
            provider=provider.name,
            sealed_verifier=self._box.seal(verifier, verifier_bound_to(digest)),
            nonce=nonce,
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.oidc_state_seconds),
            used_at=None,
        )
        async with self._db.transaction() as session:
            await store.add_sign_in(session, row, prune_before=now - timedelta(hours=1))
        url = authorization_url(
            discovery,
            client_id=provider.client_id,
            redirect_uri=redirect_uri,
            scopes=provider.scopes,
            state=state,
            nonce=nonce,
            code_challenge=challenge,
        )
        log.info("oidc.started", provider=provider.name)
        return Started(url, state)

    async def finish(
        self,
        provider: OidcProvider,
        *,
        state: str | None,
        browser_state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
    ) -> Principal:
        """The caller the provider vouches for, or SignInRefused/ProviderFailed/Forbidden
        naming why not. The state is spent by any callback that names it."""
        if not state:
            raise SignInRefused("state: missing; start the sign-in again")
        if not browser_state or not hmac.compare_digest(state.encode(), browser_state.encode()):
            raise SignInRefused(
                "state: this browser did not start this sign-in (or its cookie expired); "
                "start the sign-in again"
            )
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            row, claimed = await store.claim_sign_in(session, state_digest(state), now)
        if row is None or row.provider != provider.name:
            raise SignInRefused("state: unknown to this deployment; start the sign-in again")
        if not claimed:
            raise SignInRefused("state: already used; each sign-in is finished once")
        if row.expires_at < now:
            raise SignInRefused("state: expired; start the sign-in again")
        if error:
            said = f" ({error_description[:200]})" if error_description else ""
            raise SignInRefused(
                f"{provider.display_name} answered {error[:64]!r}{said}; you are not signed in"
            )
        if not code:
            raise SignInRefused("code: missing from the provider's callback")
        id_token = await self._exchange(provider, code, row)
        discovery = await self.discovery(provider)
        try:
            key = await self._key(provider, id_token)
            claims = verified_claims(
                id_token,
                key,
                issuer=discovery.issuer,
                client_id=provider.client_id,
                nonce=row.nonce,
                leeway_seconds=self._settings.jwt_leeway_seconds,
            )
        except IdTokenRefused as exc:
            raise SignInRefused(str(exc)) from None
        caller = principal_from_claims(
            claims, tenant_claim=provider.tenant_claim, role_claim=provider.role_claim
        )
        if caller.tenant_id is not None and not await self._authenticator.tenant_active(
            caller.tenant_id
        ):
            raise Forbidden("your tenant does not exist or is deleted")
        log.info("oidc.signed_in", provider=provider.name, role=caller.role)
        return caller

    async def _exchange(self, provider: OidcProvider, code: str, row: store.OidcSignInRow) -> str:
        """The ID token the token endpoint gives for ``code`` and the sign-in's verifier."""
        discovery = await self.discovery(provider)
        try:
            verifier = self._box.open(row.sealed_verifier, verifier_bound_to(row.state_sha256))
        except ValueError as exc:  # KeyMissing, SealBroken: the key it was sealed with is gone
            log.warning("oidc.verifier_unopened", provider=provider.name, reason=str(exc))
            raise SignInRefused(
                "state: this sign-in can no longer be finished here; start it again"
            ) from None
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": row.redirect_uri,
            "code_verifier": verifier,
            "client_id": provider.client_id,
        }
        auth = httpx.Auth()  # the base class sends the request as it is: a public client
        if provider.client_secret is not None:
            secret = provider.client_secret.get_secret_value()
            if discovery.secret_in_body():
                form["client_secret"] = secret
            else:
                auth = httpx.BasicAuth(provider.client_id, secret)
        try:
            response = await self._http.post(discovery.token_endpoint, data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise ProviderFailed(
                f"{provider.display_name}'s token endpoint is unreachable "
                f"({type(exc).__name__}); start the sign-in again shortly"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (400, 401) and isinstance(body, dict):
            raise SignInRefused(
                f"code: {provider.display_name} refused it "
                f"({str(body.get('error', 'invalid_grant'))[:64]}); start the sign-in again"
            )
        if response.status_code != 200 or not isinstance(body, dict):
            raise ProviderFailed(
                f"{provider.display_name}'s token endpoint answered {response.status_code}; "
                "start the sign-in again shortly"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise ProviderFailed(f"{provider.display_name} sent no ID token (is openid granted?)")
        return id_token

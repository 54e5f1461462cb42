"""Who is calling: OIDC/JWT bearer tokens checked against their issuer's JWKS, tokens of
the built-in local issuer (the embedded mode), and API keys for partners and CI.

A JWT's algorithm is pinned by the key that signs it (RSA → RS256, P-256 → ES256,
Ed25519 → EdDSA): a header that names another algorithm (``none``, ``HS256`` signed with
the public key) is refused before any signature is checked. An unknown ``kid`` refetches
the issuer's JWKS once (at most every ``jwks_refresh_min_seconds``), then fails.
Internal tokens (``typ: sextant-internal+jwt``) are refused here: they are for services.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args
from uuid import UUID

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sextant.gateway.db import repository
from sextant.gateway.domain.cache import TtlCache
from sextant.gateway.settings import GatewaySettings, TrustedIssuer
from sextant.runtime.db import Database
from sextant.runtime.errors import Forbidden, Unauthenticated
from sextant.runtime.tokens import TOKEN_TYPE as INTERNAL_TOKEN_TYPE

log = structlog.get_logger()

PublicRole = Literal["platform_admin", "tenant_admin", "manager", "member", "partner"]
ROLES: tuple[PublicRole, ...] = get_args(PublicRole)
LOCAL_ISSUER = "sextant-local"
LOCAL_AUDIENCE = "sextant"
API_KEY_PREFIX = "sxk_"
# A one-time sign-in link's code: a local-issuer JWT of its own type, so it is never a
# bearer token, and a bearer token is never a sign-in link.
SIGN_IN_TYPE = "sextant-sign-in+jwt"


@dataclass(frozen=True)
class Principal:
    """The verified caller of a public route."""

    subject: str
    role: PublicRole
    tenant_id: UUID | None
    via: Literal["jwt", "api_key", "session"]
    key_id: str | None = None


def principal_from_claims(
    claims: dict[str, Any], *, tenant_claim: str, role_claim: str
) -> Principal:
    """The caller a verified token names; a role it lacks or a tenant it needs is a 403."""
    role = claims.get(role_claim)
    if isinstance(role, list):  # IdPs often send roles as a list: take the known one
        known = [r for r in role if r in ROLES]
        role = known[0] if len(known) == 1 else None
    if role not in ROLES:
        raise Forbidden(f"the token's {role_claim!r} claim names no Sextant role")
    tenant_id: UUID | None = None
    if role != "platform_admin":
        try:
            tenant_id = UUID(str(claims.get(tenant_claim)))
        except ValueError:
            raise Forbidden(f"a {role} token must name its tenant in {tenant_claim!r}") from None
    return Principal(str(claims["sub"]), cast(PublicRole, role), tenant_id, "jwt")


@dataclass
class _IssuerKeys:
    config: TrustedIssuer
    keys: dict[str, jwt.PyJWK]
    fetched_at: float = 0.0


class LocalIssuer:
    """The built-in issuer: Ed25519 tokens for the embedded mode and the CLI."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.kid = hashlib.sha256(raw).hexdigest()[:16]
        self.jwk = jwt.PyJWK(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": jwt.utils.base64url_encode(raw).decode(),
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }
        )

    @classmethod
    def from_pem(cls, pem: str) -> LocalIssuer:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the local issuer's key must be Ed25519")
        return cls(key)

    def mint(
        self, *, subject: str, role: PublicRole, tenant_id: UUID | None, ttl_seconds: int
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": subject,
            "sextant_role": role,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": secrets.token_hex(8),
        }
        if tenant_id is not None:
            claims["sextant_tenant"] = str(tenant_id)
        return jwt.encode(
            claims, self._key, algorithm="EdDSA", headers={"kid": self.kid, "typ": "JWT"}
        )

    def mint_sign_in(
        self, *, subject: str, role: PublicRole, tenant_id: UUID | None, ttl_seconds: int
    ) -> str:
        """The code of a one-time sign-in link (the gateway lets it open one session)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": LOCAL_AUDIENCE,
            "sub": subject,
            "sextant_role": role,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": secrets.token_hex(16),
        }
        if tenant_id is not None:
            claims["sextant_tenant"] = str(tenant_id)
        return jwt.encode(
            claims, self._key, algorithm="EdDSA", headers={"kid": self.kid, "typ": SIGN_IN_TYPE}
        )

    def sign_in_claims(self, code: str) -> dict[str, Any]:
        """The verified claims of a sign-in link's code; 401 naming why it is refused."""
        try:
            header = jwt.get_unverified_header(code)
            if header.get("typ") != SIGN_IN_TYPE or header.get("kid") != self.kid:
                raise Unauthenticated("this is not a sign-in link of this platform")
            claims: dict[str, Any] = jwt.decode(
                code,
                self.jwk.key,
                algorithms=["EdDSA"],
                audience=LOCAL_AUDIENCE,
                issuer=LOCAL_ISSUER,
                options={"require": ["exp", "jti", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "the sign-in link has expired: restart `sextant run` for a new one"
            ) from None
        except jwt.PyJWTError:
            raise Unauthenticated("this is not a sign-in link of this platform") from None
        return claims

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk._jwk_data]}


def new_local_issuer_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def new_api_key() -> tuple[str, str]:
    """A new key as (key id, the whole key). Only the key id is ever shown again."""
    key_id = secrets.token_hex(8)
    return key_id, f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def api_key_digest(key: str) -> bytes:
    """What is stored of a key. The secret has 256 bits, so a fast hash is enough: there
    is nothing to guess, only a stolen table to make useless."""
    return hashlib.sha256(key.encode()).digest()


def _api_key_id(key: str) -> str | None:
    body = key[len(API_KEY_PREFIX) :]
    key_id, sep, secret = body.partition("_")
    if not sep or len(key_id) != 16 or not secret:
        return None
    return key_id


class Authenticator:
    """Turns a bearer credential into a :class:`Principal`, or raises 401/403."""

    def __init__(
        self,
        settings: GatewaySettings,
        db: Database,
        local: LocalIssuer | None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._db = db
        self._local = local
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._issuers = {i.issuer: _IssuerKeys(i, {}) for i in settings.issuers}
        self._refresh = asyncio.Lock()
        seconds = settings.api_key_cache_seconds
        # digest → the key's principal and its expiry
        self._keys: TtlCache[bytes, tuple[Principal, datetime | None]] = TtlCache(seconds)
        self._tenants: TtlCache[UUID, bool] = TtlCache(seconds)
        # A verified JWT cannot be revoked before it expires, so it is believed until then
        # (its tenant is still checked on every request).
        self._tokens: TtlCache[str, tuple[int, Principal]] = TtlCache(300)

    async def close(self) -> None:
        await self._http.aclose()

    async def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("send Authorization: Bearer <token or API key>")
        if credential.startswith(API_KEY_PREFIX):
            principal = await self._api_key(credential)
        else:
            principal = await self._verified_jwt(credential)
        if principal.tenant_id is not None and not await self.tenant_active(principal.tenant_id):
            raise Forbidden("the token's tenant does not exist or is deleted")
        return principal

    # JWTs -------------------------------------------------------------------------------

    async def _verified_jwt(self, token: str) -> Principal:
        now = time.monotonic()
        cached = self._tokens.get(token, now)
        if cached is not None and cached[0] > time.time() - self._settings.jwt_leeway_seconds:
            return cached[1]
        principal, expires = await self._jwt(token)
        self._tokens.put(token, (expires, principal), now)
        return principal

    async def _jwt(self, token: str) -> tuple[Principal, int]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a well-formed JWT") from None
        if header.get("typ") == INTERNAL_TOKEN_TYPE:
            raise Unauthenticated("internal service tokens are not accepted here")
        if header.get("typ") == SIGN_IN_TYPE:
            raise Unauthenticated("a sign-in link's code is not a bearer token: open the link")
        issuer = unverified.get("iss")
        if self._local is not None and issuer == LOCAL_ISSUER:
            key = self._local.jwk if header.get("kid") == self._local.kid else None
            audience, tenant_claim, role_claim = LOCAL_AUDIENCE, "sextant_tenant", "sextant_role"
        elif isinstance(issuer, str) and issuer in self._issuers:
            entry = self._issuers[issuer]
            key = await self._key(entry, header.get("kid"))
            audience = entry.config.audience
            tenant_claim, role_claim = entry.config.tenant_claim, entry.config.role_claim
        else:
            raise Unauthenticated("the token's issuer is not trusted")
        if key is None:
            raise Unauthenticated("the token is signed with a key its issuer does not publish")
        if header.get("alg") != key.algorithm_name:
            raise Unauthenticated(
                f"the token's algorithm {header.get('alg')!r} is not its key's ({key.algorithm_name})"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=audience,
                issuer=issuer,
                leeway=self._settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token was refused: {exc}") from None
        principal = principal_from_claims(claims, tenant_claim=tenant_claim, role_claim=role_claim)
        return principal, int(claims["exp"])

    async def _key(self, entry: _IssuerKeys, kid: object) -> jwt.PyJWK | None:
        if not isinstance(kid, str):
            return None
        if kid in entry.keys:
            return entry.keys[kid]
        async with self._refresh:
            since = time.monotonic() - entry.fetched_at
            if kid not in entry.keys and since >= self._settings.jwks_refresh_min_seconds:
                await self._fetch(entry)
        return entry.keys.get(kid)

    async def _fetch(self, entry: _IssuerKeys) -> None:
        entry.fetched_at = time.monotonic()
        try:
            response = await self._http.get(entry.config.jwks_uri)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("jwks.fetch_failed", issuer=entry.config.issuer, error=str(exc))
            return
        entry.keys = {k.key_id: k for k in keys.keys if k.key_id and k.algorithm_name}
        log.info("jwks.fetched", issuer=entry.config.issuer, keys=len(entry.keys))

    # API keys ---------------------------------------------------------------------------

    async def _api_key(self, key: str) -> Principal:
        """Checked against the database at most every ``api_key_cache_seconds``; a
        revocation drops the key from every replica's cache at once (:meth:`forget_key`)."""
        digest = api_key_digest(key)
        now = time.monotonic()
        known = self._keys.get(digest, now)
        if known is None:
            epoch = self._keys.epoch
            row = await self._lookup_key(key, digest)
            if row is None:  # unknown keys are not remembered: no cache flooding
                raise Unauthenticated("the API key is unknown, expired or revoked")
            known = (
                Principal(
                    f"api-key:{row.key_id}",
                    cast(PublicRole, row.role),
                    row.tenant_id,
                    "api_key",
                    row.key_id,
                ),
                row.expires_at,
            )
            self._keys.put(digest, known, now, epoch=epoch)
        principal, expires_at = known
        if expires_at is not None and expires_at <= datetime.now(UTC):
            self._keys.forget(digest)
            raise Unauthenticated("the API key is unknown, expired or revoked")
        return principal

    async def _lookup_key(self, key: str, digest: bytes) -> repository.ApiKeyRow | None:
        """The key's row when the key is whole, known and not revoked."""
        key_id = _api_key_id(key)
        if key_id is None:
            return None
        row = await self._key_row(key_id)
        if row is None or not hmac.compare_digest(row.secret_sha256, digest):
            return None
        return row

    async def _key_row(self, key_id: str) -> repository.ApiKeyRow | None:
        async with self._db.transaction() as session:
            tenant_id = await repository.api_key_tenant(session, key_id)
        if tenant_id is None:
            return None
        async with self._db.transaction(tenant_id) as session:
            row = await repository.api_key_by_key_id(session, tenant_id, key_id)
        if row is None or row.revoked_at is not None:
            return None
        return row

    async def credential_live(self, caller: Principal) -> bool:
        """Whether ``caller``'s credential still holds, from the database (an open stream
        that may have missed a revocation asks this)."""
        if caller.key_id is not None:
            row = await self._key_row(caller.key_id)
            if row is None or (row.expires_at is not None and row.expires_at <= datetime.now(UTC)):
                return False
        return caller.tenant_id is None or await self.tenant_active(caller.tenant_id)

    def trust_caches_while(self, trusted: Callable[[], bool]) -> None:
        """Believe cached keys and tenants only while ``trusted()`` (no message missed)."""
        self._keys.trusted = self._tenants.trusted = trusted

    def forget_key(self, key_id: str) -> None:
        """Drop a revoked key at once."""
        self._keys.forget_where(lambda _digest, known: known[0].key_id == key_id)

    def forget_all(self) -> None:
        """Drop every cached key and tenant (messages may have been missed)."""
        self._keys.clear()
        self._tenants.clear()

    # tenants ----------------------------------------------------------------------------

    async def tenant_active(self, tenant_id: UUID) -> bool:
        """True when the tenant exists and is not soft-deleted (cached briefly)."""
        now = time.monotonic()
        if self._tenants.get(tenant_id, now):
            return True
        epoch = self._tenants.epoch
        async with self._db.transaction() as session:
            tenant = await repository.get_tenant(session, tenant_id)
        if tenant is None or tenant.deleted_at is not None:
            return False  # not remembered: a tenant made a moment ago must not wait
        self._tenants.put(tenant_id, True, now, epoch=epoch)
        return True

    def forget_tenant(self, tenant_id: UUID) -> None:
        """Drop a deleted tenant at once, and the keys of it this replica believes."""
        self._tenants.forget(tenant_id)
        self._keys.forget_where(lambda _digest, known: known[0].tenant_id == tenant_id)


def ensure_local_issuer(data_dir: Path) -> LocalIssuer:
    """The embedded mode's local issuer, its key under ``data_dir/keys`` (made on first use)."""
    path = data_dir / "keys" / "local-issuer.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(new_local_issuer_pem())
    return LocalIssuer.from_pem(path.read_text())

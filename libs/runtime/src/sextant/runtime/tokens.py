"""The gateway's short-lived internal token, and its verification in every service.

Format: a compact JWS, ``alg=EdDSA`` (Ed25519), header ``typ=sextant-internal+jwt``, claims
``iss=sextant-gateway``, ``aud=sextant:<service>``, ``sub`` (the caller), ``tid`` (tenant,
absent for platform-wide calls), ``role``, ``scopes``, ``iat``, ``exp`` (≤ 5 minutes) and
``jti``. Only the gateway holds the private key; services hold the public key, so a
service cannot mint tokens and a token for one service is refused by another. Public
(user-facing) tokens have another ``typ``, issuer and audience and are refused here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from pydantic import BaseModel, Field

from sextant.contracts import uuid7
from sextant.runtime.errors import Forbidden, InvalidInput, Unauthenticated

TOKEN_TYPE = "sextant-internal+jwt"  # noqa: S105 - a JWT typ, not a secret
ISSUER = "sextant-gateway"
ALGORITHM = "EdDSA"
DEFAULT_TTL_SECONDS = 60
MAX_TTL_SECONDS = 300
LEEWAY_SECONDS = 5

Role = Literal["platform_admin", "tenant_admin", "manager", "member", "partner", "system"]


class InternalClaims(BaseModel):
    """Who is calling a service, as the gateway vouches for it."""

    sub: str
    tid: UUID | None = None
    role: Role
    scopes: list[str] = Field(default_factory=list)
    scope_workspaces: list[UUID] | None = Field(
        default=None,
        description="the workspaces the request's ?scope= covers, as the gateway resolved "
        "and checked them (a view expands to its live workspaces)",
    )
    jti: str
    exp: int
    iat: int

    def tenant(self, needs_one: str) -> UUID:
        """The caller's tenant; a 400 when the call names none, ``needs_one`` saying why it
        must ("forecasts are per tenant")."""
        if self.tid is None:
            raise InvalidInput(f"{needs_one}; the call names none")
        return self.tid


def audience_for(service: str) -> str:
    """The ``aud`` claim a token for ``service`` must carry."""
    return f"sextant:{service}"


class InternalTokenSigner:
    """Mints internal tokens; lives in the gateway only."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    def mint(
        self,
        *,
        service: str,
        subject: str,
        role: Role,
        tenant_id: UUID | None,
        scopes: list[str] | None = None,
        scope_workspaces: list[UUID] | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> str:
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be in (0, {MAX_TTL_SECONDS}] seconds")
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": audience_for(service),
            "sub": subject,
            "role": role,
            "scopes": scopes or [],
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid7()),
        }
        if tenant_id is not None:
            claims["tid"] = str(tenant_id)
        if scope_workspaces is not None:
            claims["scope_workspaces"] = [str(w) for w in scope_workspaces]
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})


class InternalTokenVerifier:
    """Checks internal tokens for one service: signature, type, issuer, audience, lifetime."""

    def __init__(
        self, public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey], service: str
    ) -> None:
        # several during a key rotation: the gateway's new key and its old one
        self._keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
        self._audience = audience_for(service)

    def verify(self, token: str) -> InternalClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("internal token is malformed") from exc
        if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
            raise Unauthenticated("not an internal token")
        claims = self._decode(token)
        if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
            raise Unauthenticated("internal token lives too long")
        return InternalClaims.model_validate(claims)

    def _decode(self, token: str) -> dict[str, Any]:
        """The claims under the first key whose signature matches (a token signed by none
        is refused with the last key's reason)."""
        for index, key in enumerate(self._keys):
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[ALGORITHM],
                    audience=self._audience,
                    issuer=ISSUER,
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
                )
                return claims
            except jwt.InvalidSignatureError as exc:
                if index == len(self._keys) - 1:
                    raise Unauthenticated(f"internal token rejected: {exc}") from exc
            except jwt.ExpiredSignatureError as exc:
                raise Unauthenticated("internal token expired") from exc
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"internal token rejected: {exc}") from exc
        raise Unauthenticated("no key verifies internal tokens")


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("internal token key must be Ed25519")
    return key


def load_public_keys(pems: str) -> list[Ed25519PublicKey]:
    """Every public key of a PEM bundle: one, or the new and the old during a rotation."""
    marker = "-----END PUBLIC KEY-----"
    blocks = [block + marker for block in pems.split(marker) if block.strip()]
    if not blocks:
        raise ValueError("no public key in SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY")
    return [load_public_key(block) for block in blocks]


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("internal token key must be Ed25519")
    return key


def ensure_local_keypair(data_dir: Path) -> tuple[str, str]:
    """The embedded mode's key pair under ``data_dir/keys``, made on first use."""
    keys = data_dir / "keys"
    private_path, public_path = keys / "internal-token.key", keys / "internal-token.pub"
    if not private_path.exists():
        keys.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_keypair()
        private_path.touch(mode=0o600)
        private_path.write_text(private_pem)
        public_path.write_text(public_pem)
    return private_path.read_text(), public_path.read_text()


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("an internal bearer token is required")
    return token.strip()


async def internal_claims(request: Request) -> InternalClaims:
    """FastAPI dependency: verify the internal token with the app's verifier."""
    verifier: InternalTokenVerifier = request.app.state.token_verifier
    claims = verifier.verify(_bearer(request))
    request.state.claims = claims
    from sextant.runtime.logging import bind_request_context

    bind_request_context(tenant_id=str(claims.tid) if claims.tid else None)
    return claims


Caller = Annotated[InternalClaims, Depends(internal_claims)]


def caller_with_role(*roles: Role) -> Callable[[Request], Awaitable[InternalClaims]]:
    """A dependency that lets through only callers holding one of ``roles``: each route
    says who may call it (``Annotated[InternalClaims, Depends(caller_with_role(...))]``)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> InternalClaims:
        claims = await internal_claims(request)
        if claims.role not in allowed:
            raise Forbidden(
                f"role '{claims.role}' may not do this; it needs one of: {', '.join(sorted(allowed))}"
            )
        return claims

    return dependency

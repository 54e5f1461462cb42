"""Internal tokens: only a token the gateway minted for this service, still fresh, passes."""

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from sextant.runtime.errors import InvalidInput, Unauthenticated
from sextant.runtime.tokens import (
    ALGORITHM,
    ISSUER,
    TOKEN_TYPE,
    InternalClaims,
    InternalTokenSigner,
    InternalTokenVerifier,
    audience_for,
    generate_keypair,
    load_private_key,
    load_public_key,
)

PRIVATE, PUBLIC = generate_keypair()
SIGNER = InternalTokenSigner(load_private_key(PRIVATE))
VERIFIER = InternalTokenVerifier(load_public_key(PUBLIC), "forecast")
TENANT = uuid.UUID("0190d6a0-0000-7000-8000-000000000001")


def claims(**overrides):
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": audience_for("forecast"),
        "sub": "user-1",
        "role": "member",
        "scopes": [],
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "j1",
        "tid": str(TENANT),
    }
    base.update(overrides)
    return base


def test_minted_token_verifies_with_its_claims():
    token = SIGNER.mint(
        service="forecast", subject="user-1", role="manager", tenant_id=TENANT, scopes=["read"]
    )
    verified = VERIFIER.verify(token)
    assert (verified.sub, verified.role, verified.tid, verified.scopes) == (
        "user-1",
        "manager",
        TENANT,
        ["read"],
    )


def test_token_for_another_service_is_refused():
    token = SIGNER.mint(service="ingest", subject="u", role="member", tenant_id=TENANT)
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(token)


def test_token_signed_by_another_key_is_refused():
    other = InternalTokenSigner(load_private_key(generate_keypair()[0]))
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(
            other.mint(service="forecast", subject="u", role="member", tenant_id=TENANT)
        )


def test_expired_token_beyond_leeway_is_refused():
    now = int(time.time())
    token = jwt.encode(
        claims(iat=now - 120, nbf=now - 120, exp=now - 30),
        load_private_key(PRIVATE),
        algorithm=ALGORITHM,
        headers={"typ": TOKEN_TYPE},
    )
    with pytest.raises(Unauthenticated, match="expired"):
        VERIFIER.verify(token)


def test_alg_none_is_refused():
    token = jwt.encode(claims(), None, algorithm="none", headers={"typ": TOKEN_TYPE})
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(token)


def test_hs256_signed_with_the_public_key_is_refused():
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": TOKEN_TYPE}).encode())
    payload = b64(json.dumps(claims()).encode())
    signature = hmac.new(PUBLIC.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(f"{header}.{payload}.{b64(signature)}")


def test_a_public_user_token_type_is_refused():
    token = jwt.encode(
        claims(), load_private_key(PRIVATE), algorithm=ALGORITHM, headers={"typ": "JWT"}
    )
    with pytest.raises(Unauthenticated, match="not an internal token"):
        VERIFIER.verify(token)


def test_a_long_lived_token_is_refused():
    now = int(time.time())
    token = jwt.encode(
        claims(exp=now + 3600),
        load_private_key(PRIVATE),
        algorithm=ALGORITHM,
        headers={"typ": TOKEN_TYPE},
    )
    with pytest.raises(Unauthenticated, match="too long"):
        VERIFIER.verify(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "e30.e30.", "Bearer x"])
def test_garbage_is_refused(garbage):
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(garbage)


def test_mint_refuses_an_overlong_ttl():
    with pytest.raises(ValueError):
        SIGNER.mint(
            service="forecast", subject="u", role="member", tenant_id=None, ttl_seconds=3600
        )


def test_public_key_pem_is_ed25519():
    key = serialization.load_pem_public_key(PUBLIC.encode())
    assert type(key).__name__.startswith("_Ed25519PublicKey") or "Ed25519" in type(key).__name__


def test_a_rotation_verifies_the_new_and_the_old_key_and_nothing_else() -> None:
    from sextant.runtime.tokens import load_public_keys

    new_private, new_public = generate_keypair()
    rotating = InternalTokenVerifier(load_public_keys(new_public + PUBLIC), "forecast")
    old = SIGNER.mint(service="forecast", subject="u", role="member", tenant_id=TENANT)
    new = InternalTokenSigner(load_private_key(new_private)).mint(
        service="forecast", subject="u", role="member", tenant_id=TENANT
    )
    assert rotating.verify(old).sub == rotating.verify(new).sub == "u"
    stranger = InternalTokenSigner(load_private_key(generate_keypair()[0])).mint(
        service="forecast", subject="u", role="member", tenant_id=TENANT
    )
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        rotating.verify(stranger)
    with pytest.raises(Unauthenticated):  # once the old key is gone, its tokens are refused
        InternalTokenVerifier(load_public_keys(new_public), "forecast").verify(old)
    with pytest.raises(ValueError, match="no public key"):
        load_public_keys("  \n")


def test_a_caller_without_a_tenant_gets_a_400_saying_why_one_is_needed() -> None:
    claims: dict[str, Any] = dict(sub="s", role="member", jti="j", exp=2, iat=1)
    assert InternalClaims(tid=TENANT, **claims).tenant("forecasts are per tenant") == TENANT
    with pytest.raises(InvalidInput, match=r"^forecasts are per tenant; the call names none$"):
        InternalClaims(**claims).tenant("forecasts are per tenant")

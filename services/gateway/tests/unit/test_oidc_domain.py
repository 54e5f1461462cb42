"""The pure part of the OIDC sign-in: the discovery document's issuer, the authorization
request, and ID-token checks the integration test does not reach (algorithm confusion,
several audiences)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sextant.gateway.domain.oidc import (
    Discovery,
    DiscoveryInvalid,
    IdTokenRefused,
    authorization_url,
    verified_claims,
)

ISSUER = "https://id.example"
DOCUMENT = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize?tenant=acme",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
}


def test_a_discovery_document_naming_another_issuer_is_refused() -> None:
    with pytest.raises(DiscoveryInvalid, match=r"names issuer 'https://evil\.example'"):
        Discovery.parse(DOCUMENT | {"issuer": "https://evil.example"}, ISSUER)
    with pytest.raises(DiscoveryInvalid, match="has no token_endpoint, jwks_uri"):
        Discovery.parse({"issuer": ISSUER, "authorization_endpoint": "x"}, ISSUER)


def test_the_secret_goes_in_the_body_only_when_the_provider_takes_no_basic() -> None:
    assert not Discovery.parse(DOCUMENT, ISSUER).secret_in_body()  # the default: Basic
    post_only = DOCUMENT | {"token_endpoint_auth_methods_supported": ["client_secret_post"]}
    assert Discovery.parse(post_only, ISSUER).secret_in_body()


def test_the_authorization_url_keeps_the_endpoints_query_and_always_asks_openid() -> None:
    url = authorization_url(
        Discovery.parse(DOCUMENT, ISSUER),
        client_id="c",
        redirect_uri="https://sextant.example/v1/auth/oidc/x/callback",
        scopes=["email"],
        state="s",
        nonce="n",
        code_challenge="ch",
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/authorize"
    assert query["tenant"] == ["acme"]
    assert query["scope"] == ["openid email"]
    assert (query["code_challenge"], query["code_challenge_method"]) == (["ch"], ["S256"])


@pytest.fixture
def key() -> tuple[Ed25519PrivateKey, jwt.PyJWK]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = jwt.utils.base64url_encode(raw).decode()
    return private, jwt.PyJWK({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA"})


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": "c",
        "sub": "u",
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
    } | extra


def test_a_token_whose_header_asks_another_algorithm_than_its_key_is_refused(
    key: tuple[Ed25519PrivateKey, jwt.PyJWK],
) -> None:
    _, public = key
    forged = jwt.encode(_claims(), "public-key-as-hmac-secret-0123456789", algorithm="HS256")
    with pytest.raises(IdTokenRefused, match="algorithm 'HS256' is not its key's"):
        verified_claims(forged, public, issuer=ISSUER, client_id="c", nonce="n", leeway_seconds=0)


def test_several_audiences_need_azp_naming_the_client(
    key: tuple[Ed25519PrivateKey, jwt.PyJWK],
) -> None:
    private, public = key
    shared = jwt.encode(_claims(aud=["c", "other"]), private, algorithm="EdDSA")
    with pytest.raises(IdTokenRefused, match="several audiences"):
        verified_claims(shared, public, issuer=ISSUER, client_id="c", nonce="n", leeway_seconds=0)
    ours = jwt.encode(_claims(aud=["c", "other"], azp="c"), private, algorithm="EdDSA")
    claims = verified_claims(
        ours, public, issuer=ISSUER, client_id="c", nonce="n", leeway_seconds=0
    )
    assert claims["sub"] == "u"

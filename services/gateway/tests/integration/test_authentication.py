"""Bearer tokens at the public edge, against an issuer whose JWKS a real HTTP server on
loopback publishes: good tokens pass; every classic JWT attack gets 401, never data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sextant.forecast.main import SPEC as FORECAST
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings, TrustedIssuer
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import running_app, running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER, AUDIENCE = "https://idp.example.test/", "sextant-api"


@dataclass
class Jwks:
    """The issuer's published keys, served over HTTP; counts how often it is read."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0


@pytest.fixture
def jwks() -> Iterator[tuple[Jwks, str]]:
    published = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.fetches += 1
            body = json.dumps({"keys": published.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield published, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


@pytest.fixture
async def edge(
    database_url: str, internal_keys: InternalKeys, jwks: tuple[Jwks, str]
) -> AsyncIterator[httpx.AsyncClient]:
    _, uri = jwks
    settings = GatewaySettings(
        issuers=[TrustedIssuer(issuer=ISSUER, audience=AUDIENCE, jwks_uri=uri)],
        jwks_refresh_min_seconds=0,
    )
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams({}),
        gateway_settings=settings,
    )
    async with running_app(app) as client:
        yield client


async def test_good_rs256_and_es256_tokens_name_the_caller_and_every_attack_gets_401(
    edge: httpx.AsyncClient, jwks: tuple[Jwks, str], internal_keys: InternalKeys
) -> None:
    published, _ = jwks
    rsa_private, ec_private = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    published.keys = [public_jwk(rsa_private, "r1", "RS256"), public_jwk(ec_private, "e1", "ES256")]

    def signed(
        payload: dict[str, Any], key: Any = rsa_private, kid: str = "r1", alg: str = "RS256"
    ) -> str:
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})

    async def me(token: str) -> httpx.Response:
        return await edge.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    admin = claims(sextant_role="platform_admin")
    assert (await me(signed(admin))).json()["role"] == "platform_admin"
    tenant = await edge.post(
        "/v1/tenants", json={"name": "Acme"}, headers={"Authorization": f"Bearer {signed(admin)}"}
    )
    tenant_id = tenant.json()["id"]
    member = claims(sextant_role="member", sextant_tenant=tenant_id)
    for token in (signed(member), signed(member, ec_private, "e1", "ES256")):
        reply = await me(token)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "subject": "ada",
            "role": "member",
            "tenant_id": tenant_id,
            "via": "jwt",
        }

    public_pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_input = unsigned({"alg": "HS256", "kid": "r1", "typ": "JWT"}, member)
    hs256_with_public_key = (
        f"{hs_input}.{b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())}"
    )
    good = signed(member)
    head, _, signature = good.split(".")
    tampered_body = b64(json.dumps({**member, "sextant_role": "tenant_admin"}).encode())
    attacks = {
        "alg none": unsigned({"alg": "none", "kid": "r1"}, member) + ".",
        "HS256 signed with the public key": hs256_with_public_key,
        "ES256 header on the RSA key": unsigned({"alg": "ES256", "kid": "r1"}, member)
        + "."
        + signature,
        "unknown kid": signed(member, rsa_key(), "nobody"),
        "expired beyond leeway": signed(
            claims(sextant_role="member", sextant_tenant=tenant_id, exp=int(time.time()) - 120)
        ),
        "wrong aud": signed(
            claims(sextant_role="member", sextant_tenant=tenant_id, aud="another-api")
        ),
        "wrong iss": signed(
            claims(sextant_role="member", sextant_tenant=tenant_id, iss="https://evil.test/")
        ),
        "no exp": signed(claims(sextant_role="member", sextant_tenant=tenant_id, exp=None)),
        "tampered claims": f"{head}.{tampered_body}.{signature}",
        "internal token": internal_keys.signer.mint(
            service="gateway", subject="ada", role="tenant_admin", tenant_id=UUID(tenant_id)
        ),
        "garbage": "not-a-jwt",
    }
    accepted = {}
    for name, token in attacks.items():
        reply = await me(token)
        if reply.status_code != 401 or reply.headers["content-type"] != "application/problem+json":
            accepted[name] = (reply.status_code, reply.text)
    assert accepted == {}

    within_leeway = claims(
        sextant_role="member", sextant_tenant=tenant_id, exp=int(time.time()) - 10
    )
    assert (await me(signed(within_leeway))).status_code == 200
    no_role = claims(sextant_tenant=tenant_id)
    assert (await me(signed(no_role))).status_code == 403


async def test_an_unknown_kid_refetches_the_jwks_once_so_a_rotated_key_is_accepted(
    edge: httpx.AsyncClient, jwks: tuple[Jwks, str]
) -> None:
    published, _ = jwks
    old, new = rsa_key(), rsa_key()
    published.keys = [public_jwk(old, "old", "RS256")]
    admin = claims(sextant_role="platform_admin")
    headers = {
        "Authorization": f"Bearer {jwt.encode(admin, old, algorithm='RS256', headers={'kid': 'old'})}"
    }
    assert (await edge.get("/v1/me", headers=headers)).status_code == 200
    before = published.fetches

    published.keys.append(public_jwk(new, "new", "RS256"))
    rotated = jwt.encode(admin, new, algorithm="RS256", headers={"kid": "new"})
    assert (
        await edge.get("/v1/me", headers={"Authorization": f"Bearer {rotated}"})
    ).status_code == 200
    assert published.fetches == before + 1

    stranger = jwt.encode(admin, rsa_key(), algorithm="RS256", headers={"kid": "stranger"})
    assert (
        await edge.get("/v1/me", headers={"Authorization": f"Bearer {stranger}"})
    ).status_code == 401
    assert published.fetches == before + 2  # once for the unknown kid, then it fails


async def test_a_service_refuses_public_tokens_and_calls_without_or_with_forged_internal_tokens(
    database_url: str, internal_keys: InternalKeys
) -> None:
    from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
    from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

    public = LocalIssuer.from_pem(new_local_issuer_pem()).mint(
        subject="ada", role="tenant_admin", tenant_id=UUID(int=1), ttl_seconds=300
    )
    forged = InternalTokenSigner(load_private_key(generate_keypair()[0])).mint(
        service="forecast", subject="ada", role="tenant_admin", tenant_id=UUID(int=1)
    )
    expired = internal_keys.signer.mint(
        service="forecast", subject="ada", role="tenant_admin", tenant_id=UUID(int=1), ttl_seconds=1
    )
    other_service = internal_keys.signer.mint(
        service="ingest", subject="ada", role="tenant_admin", tenant_id=UUID(int=1)
    )
    time.sleep(7)  # past the 1 s lifetime and the 5 s leeway
    settings = service_settings(database_url, internal_keys)
    async with running_service(FORECAST, settings) as (client, _):
        for headers in (
            {},
            {"Authorization": f"Bearer {public}"},
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": f"Bearer {expired}"},
            {"Authorization": f"Bearer {other_service}"},
        ):
            reply = await client.get("/internal/info", headers=headers)
            assert reply.status_code == 401, (headers, reply.text)

"""The portal's sign-in with an OIDC provider, over real HTTP against a fake provider on
a loopback port (discovery, an authorize endpoint that redirects back with a code, the
token endpoint checking the client secret and the PKCE verifier, JWKS): the happy path
to a session, and every hostile case ending on the portal's sign-in page with a reason,
never a 500. The test plays the browser: it carries cookies and follows redirects by
hand."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.engine import make_url

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings, OidcProvider
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.sealing import key_id_of
from sextant.runtime.testing.apps import served, service_settings
from sextant.runtime.testing.plugin import InternalKeys

CLIENT_ID, CLIENT_SECRET = "sextant-portal", "portal-secret-0123456789"
GATEWAY = "http://127.0.0.1:8080"
CALLBACK = f"{GATEWAY}/v1/auth/oidc/corp/callback"


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": b64(numbers.n),
        "e": b64(numbers.e),
    }


@dataclass
class Provider:
    """A fake OIDC provider: what it knows and saw; its knobs are plain attributes."""

    key: rsa.RSAPrivateKey
    rogue: rsa.RSAPrivateKey  # a key it never publishes
    issuer: str = ""
    claims: dict[str, Any] = field(default_factory=dict)  # the next ID token's, over the usual
    sign_with_rogue: bool = False
    token_status: int = 200
    raw_id_token: str | None = None  # sent instead of a signed one
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> authorize query
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    _codes: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def id_token(self, asked: dict[str, str]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "alice@corp",
            "iat": now,
            "exp": now + 300,
            "nonce": asked["nonce"],
            "sextant_role": "manager",
        } | self.claims
        key, kid = (self.rogue, "rogue") if self.sign_with_rogue else (self.key, "k1")
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [_jwk(self.key, "k1")]}

        @app.get("/authorize")
        async def authorize(request: Request) -> Response:
            """The user signs in at once: back to the client with a code."""
            asked = dict(request.query_params)
            code = f"code-{next(self._codes)}"
            self.codes[code] = asked
            back = httpx.URL(asked["redirect_uri"], params={"code": code, "state": asked["state"]})
            return RedirectResponse(str(back), status_code=302)

        @app.post("/token")
        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            self.token_requests.append(
                {"form": form, "authorization": request.headers.get("authorization")}
            )
            if self.token_status != 200:
                return JSONResponse({"error": "server_error"}, self.token_status)
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {basic}":
                return JSONResponse({"error": "invalid_client"}, 401)
            asked = self.codes.pop(str(form.get("code")), None)
            if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, 400)
            digest = hashlib.sha256(str(form.get("code_verifier")).encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != asked["code_challenge"]:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
            id_token = self.raw_id_token or self.id_token(asked)
            return JSONResponse(
                {"access_token": "at", "token_type": "Bearer", "id_token": id_token}
            )

        return app


@dataclass
class Browser:
    """The gateway over ASGI, the fake provider over a socket, cookies carried by hand."""

    gateway: httpx.AsyncClient
    provider: Provider
    provider_http: httpx.AsyncClient
    tenant: UUID
    dsn: str  # the gateway's database, to read what it stored

    async def login(self, name: str = "corp") -> httpx.Response:
        started = await self.gateway.get(f"/v1/auth/oidc/{name}/login")
        self.gateway.cookies.clear()  # cookies travel only as a test sends them
        return started

    async def sign_in(self, **knobs: Any) -> httpx.Response:
        """Login, the provider's authorize, and back to the callback with the state
        cookie; the callback's answer."""
        for knob, value in knobs.items():
            setattr(self.provider, knob, value)
        started = await self.login()
        assert started.status_code == 302, started.text
        state_cookie = cookies(started)["sextant_oidc_state"].value
        back = await self.provider_http.get(started.headers["location"])
        assert back.status_code == 302, back.text
        return await self.callback(back.headers["location"], state_cookie)

    async def callback(self, location: str, state_cookie: str | None) -> httpx.Response:
        url = httpx.URL(location)
        assert f"{url.scheme}://{url.netloc.decode()}{url.path}" == CALLBACK
        headers = {"Cookie": f"sextant_oidc_state={state_cookie}"} if state_cookie else {}
        back = await self.gateway.get(f"{url.path}?{url.query.decode()}", headers=headers)
        self.gateway.cookies.clear()
        return back


def cookies(response: httpx.Response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def sign_in_error(response: httpx.Response) -> str:
    """The reason the portal's sign-in page is sent, asserting it is a refusal."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/"
    assert "sextant_session" not in cookies(response)
    return parse_qs(location.query)["sign_in_error"][0]


@pytest.fixture(scope="module")
async def browser(postgres_url: str, internal_keys: InternalKeys) -> AsyncIterator[Browser]:
    name = f"t_oidc_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    database = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    fake = Provider(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    async with served(fake.app()) as url:
        fake.issuer = url
        providers = [
            OidcProvider(
                name="corp",
                display_name="Corp SSO",
                issuer=url,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
            ),
            OidcProvider(  # a provider that is down: nothing listens on its port
                name="gone",
                display_name="Gone SSO",
                issuer=f"http://127.0.0.1:{free_port()}",
                client_id=CLIENT_ID,
            ),
        ]
        app = create_app(
            service_settings(
                database, internal_keys, egress_allow=["127.0.0.1"], egress_allow_http=True
            ),
            upstreams=Upstreams({}),
            local_issuer=issuer,
            gateway_settings=GatewaySettings(
                oidc_providers=providers,
                jwks_refresh_min_seconds=0,
                anonymous_failure_burst=1000,
            ),
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=GATEWAY, cookies=None
            ) as gateway,
            httpx.AsyncClient() as provider_http,
        ):
            root = issuer.mint(
                subject="root", role="platform_admin", tenant_id=None, ttl_seconds=600
            )
            made = await gateway.post(
                "/v1/tenants", json={"name": "corp"}, headers={"Authorization": f"Bearer {root}"}
            )
            assert made.status_code == 201, made.text
            yield Browser(
                gateway, fake, provider_http, UUID(made.json()["id"]), plain_dsn(database)
            )
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture(autouse=True)
def fresh_knobs(browser: Browser) -> None:
    """Each test starts from a provider that behaves, its user a manager of the tenant."""
    browser.provider.claims = {"sextant_tenant": str(browser.tenant)}
    browser.provider.sign_with_rogue = False
    browser.provider.token_status = 200
    browser.provider.raw_id_token = None
    browser.provider.token_requests.clear()
    browser.gateway.cookies.clear()


async def test_a_user_signs_in_with_the_provider_by_code_and_pkce_and_gets_the_session(
    browser: Browser,
) -> None:
    started = await browser.login()
    assert started.status_code == 302, started.text
    location = urlsplit(started.headers["location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == f"{browser.provider.issuer}/authorize"
    )
    asked = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK
    assert asked["scope"] == "openid email profile"
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
    assert len(asked["state"]) >= 43 and len(asked["nonce"]) >= 43
    morsel = cookies(started)["sextant_oidc_state"]
    assert morsel.value == asked["state"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/v1/auth/oidc"
    assert morsel["max-age"] == "600"

    back = await browser.provider_http.get(started.headers["location"])
    signed_in = await browser.callback(back.headers["location"], morsel.value)
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/"
    session = cookies(signed_in)["sextant_session"]
    assert session["httponly"] is True and session["samesite"].lower() == "strict"
    assert cookies(signed_in)["sextant_oidc_state"]["max-age"] == "0"  # spent: cleared

    # The exchange sent the client secret (Basic) and the verifier behind the challenge.
    [exchange] = browser.provider.token_requests
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert exchange["authorization"] == f"Basic {basic}"
    verifier = exchange["form"]["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"]

    me = await browser.gateway.get(
        "/v1/session", headers={"Cookie": f"sextant_session={session.value}"}
    )
    assert me.status_code == 200, me.text
    assert (me.json()["subject"], me.json()["role"], me.json()["tenant_id"]) == (
        "alice@corp",
        "manager",
        str(browser.tenant),
    )

    # The same callback again, cookie and all: the state is spent.
    replayed = await browser.callback(back.headers["location"], morsel.value)
    assert "state: already used" in sign_in_error(replayed)


async def test_the_pkce_verifier_is_stored_sealed_and_the_sign_in_still_finishes(
    browser: Browser,
) -> None:
    started = await browser.login()
    state = cookies(started)["sextant_oidc_state"].value
    conn = await asyncpg.connect(browser.dsn)
    try:
        [stored] = await conn.fetch(
            "SELECT * FROM gateway.oidc_sign_ins WHERE state_sha256 = $1",
            hashlib.sha256(state.encode()).digest(),
        )
    finally:
        await conn.close()
    assert "code_verifier" not in dict(stored)
    back = await browser.provider_http.get(started.headers["location"])
    signed_in = await browser.callback(back.headers["location"], state)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    verifier = browser.provider.token_requests[-1]["form"]["code_verifier"]
    assert 43 <= len(verifier) <= 128  # RFC 7636
    assert verifier.encode() not in stored["sealed_verifier"]
    assert key_id_of(stored["sealed_verifier"]) == "k0"  # the gateway's key (the key file's)


async def test_the_providers_are_listed_for_the_sign_in_page_and_an_unknown_one_is_a_404(
    browser: Browser,
) -> None:
    listed = await browser.gateway.get("/v1/auth/providers")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [
            {"name": "corp", "display_name": "Corp SSO", "login_url": "/v1/auth/oidc/corp/login"},
            {"name": "gone", "display_name": "Gone SSO", "login_url": "/v1/auth/oidc/gone/login"},
        ],
        "next_cursor": None,
    }
    unknown = await browser.gateway.get("/v1/auth/oidc/nobody/login")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "provider" in unknown.json()["detail"]


async def test_a_callback_this_browser_did_not_start_is_refused_before_the_code_is_spent(
    browser: Browser,
) -> None:
    started = await browser.login()
    back = await browser.provider_http.get(started.headers["location"])
    # An attacker's callback URL opened in a victim's browser: no state cookie, or another.
    assert "this browser did not start" in sign_in_error(
        await browser.callback(back.headers["location"], None)
    )
    other = cookies(await browser.login())["sextant_oidc_state"].value
    assert "this browser did not start" in sign_in_error(
        await browser.callback(back.headers["location"], other)
    )
    assert browser.provider.token_requests == []
    # A state this deployment never gave out, with a cookie to match.
    forged = f"{CALLBACK}?code=code-x&state=forged"
    assert "state: unknown" in sign_in_error(await browser.callback(forged, "forged"))


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"claims": {"nonce": "not-this-sign-in"}}, "nonce is not this sign-in's"),
        (
            {"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}},
            "has expired",
        ),
        ({"claims": {"aud": "another-client"}}, "not for this client"),
        ({"sign_with_rogue": True}, "key its provider does not publish"),
        ({"claims": {"sextant_role": "overlord"}}, "names no Sextant role"),
        ({"token_status": 500}, "token endpoint answered 500"),
        ({"raw_id_token": "not-a-jwt"}, "not a well-formed JWT"),
    ],
    ids=[
        "wrong-nonce",
        "expired",
        "wrong-audience",
        "unknown-key",
        "no-role",
        "token-endpoint-down",
        "malformed-token",
    ],
)
async def test_a_refused_id_token_or_exchange_sends_the_browser_back_with_the_reason(
    browser: Browser, knobs: dict[str, Any], reason: str
) -> None:
    if "claims" in knobs:
        knobs = {"claims": {"sextant_tenant": str(browser.tenant)} | knobs["claims"]}
    assert reason in sign_in_error(await browser.sign_in(**knobs))


async def test_a_declined_sign_in_and_a_provider_that_is_down_are_shown_not_500s(
    browser: Browser,
) -> None:
    started = await browser.login()
    state = cookies(started)["sextant_oidc_state"].value
    declined = f"{CALLBACK}?error=access_denied&error_description=user+said+no&state={state}"
    reason = sign_in_error(await browser.callback(declined, state))
    assert "'access_denied'" in reason and "user said no" in reason

    down = await browser.login("gone")
    assert "Gone SSO is unreachable" in sign_in_error(down)


async def test_an_over_long_or_binary_state_or_code_is_a_4xx_or_a_reason_never_a_500(
    browser: Browser,
) -> None:
    path = "/v1/auth/oidc/corp/callback"
    # Over its length: refused by the parameter's bound, before the handler reads anything.
    for query, named in (
        (f"code=c&state={'s' * 513}", "state"),
        (f"code={'c' * 4097}&state=s", "code"),
    ):
        long = await browser.gateway.get(
            f"{path}?{query}", headers={"Cookie": "sextant_oidc_state=s"}
        )
        assert long.status_code == 422, long.text
        assert long.headers["content-type"] == "application/problem+json"
        assert named in long.json()["detail"]
    # Binary: NUL, an invalid UTF-8 byte, CR LF. A state no browser was given...
    binary = "%00%FF%0D%0Aset-cookie:x"
    assert "this browser did not start" in sign_in_error(
        await browser.gateway.get(f"{path}?code={binary}&state={binary}")
    )
    # ... one at its longest with a cookie to match (only its SHA-256 is looked up) ...
    longest = "s" * 512
    matched = await browser.gateway.get(
        f"{path}?code={binary}&state={longest}", headers={"Cookie": f"sextant_oidc_state={longest}"}
    )
    assert "state: unknown" in sign_in_error(matched)
    # ... and a binary code, an error and its description on a live state.
    started = await browser.login()
    state = cookies(started)["sextant_oidc_state"].value
    refused = await browser.gateway.get(
        f"{path}?code={binary}&state={state}", headers={"Cookie": f"sextant_oidc_state={state}"}
    )
    assert "code: Corp SSO refused it" in sign_in_error(refused)
    assert browser.provider.token_requests[-1]["form"]["code"] == "\x00\ufffd\r\nset-cookie:x"
    started = await browser.login()
    state = cookies(started)["sextant_oidc_state"].value
    declined = await browser.gateway.get(
        f"{path}?error={binary}&error_description={binary * 40}&state={state}",
        headers={"Cookie": f"sextant_oidc_state={state}"},
    )
    reason = sign_in_error(declined)
    assert "Corp SSO answered" in reason and "\r\n" in reason
    assert "\r" not in declined.headers["location"]

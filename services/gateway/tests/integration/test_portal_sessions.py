"""The web portal at the gateway's edge: its built files at ``/`` beside (never over) the
API, and the browser's sign-in — a one-time link opens a cookie session that is the
caller of ``/v1``, its writes need the CSRF token, sign-out and expiry end it, and
bearer tokens work as before. No browser: these are the cookie and CSRF rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.db import browser_sessions
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.testing.apps import service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
INDEX = "<!doctype html><title>Sextant portal</title>"


@dataclass
class Edge:
    app: FastAPI
    http: httpx.AsyncClient  # http://, no cookie jar: cookies are sent by hand

    def link(self, ttl_seconds: int = 600) -> str:
        return ISSUER.mint_sign_in(
            subject="platform-admin@local",
            role="platform_admin",
            tenant_id=None,
            ttl_seconds=ttl_seconds,
        )

    def bearer(self) -> dict[str, str]:
        token = ISSUER.mint(
            subject="platform-admin@local", role="platform_admin", tenant_id=None, ttl_seconds=600
        )
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def edge(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> AsyncIterator[Edge]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-3f9a1c.js").write_text("export {}")
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams({}),
        gateway_settings=GatewaySettings(web_dist=dist),
        local_issuer=ISSUER,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1:8080", cookies=None
        ) as http:
            yield Edge(app, http)


def jar(value: str, name: str = "sextant_session") -> dict[str, str]:
    """The Cookie header a browser sends back."""
    return {"Cookie": f"{name}={value}"}


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


async def sign_in(edge: Edge, code: str) -> str:
    response = await edge.http.get("/v1/session/link", params={"code": code})
    assert response.status_code == 303, response.text
    edge.http.cookies.clear()
    return set_cookie(response)["sextant_session"].value


def assert_problem(response: httpx.Response, status: int, names: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert names in response.json()["detail"], response.json()


async def test_a_sign_in_link_opens_one_httponly_strict_session_that_is_the_caller(
    edge: Edge,
) -> None:
    code = edge.link()
    response = await edge.http.get("/v1/session/link", params={"code": code})
    edge.http.cookies.clear()
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert response.headers["cache-control"] == "no-store"
    morsel = set_cookie(response)["sextant_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == "28800"  # the 8 h default
    assert not morsel["secure"]  # plain http (loopback); https below
    cookie = jar(morsel.value)

    me = await edge.http.get("/v1/me", headers=cookie)
    assert me.status_code == 200, me.text
    assert me.json() == {
        "subject": "platform-admin@local",
        "role": "platform_admin",
        "tenant_id": None,
        "via": "session",
    }
    session = await edge.http.get("/v1/session", headers=cookie)
    assert session.status_code == 200
    assert session.json()["role"] == "platform_admin"
    assert len(session.json()["csrf_token"]) == 43  # 32 bytes, base64url without padding

    again = await edge.http.get("/v1/session/link", params={"code": code})
    assert_problem(again, 409, "used already")
    # The link's code is no bearer token, and a bearer token is no link.
    as_bearer = await edge.http.get("/v1/me", headers={"Authorization": f"Bearer {code}"})
    assert_problem(as_bearer, 401, "not a bearer token")
    token = edge.bearer()["Authorization"].split()[1]
    as_link = await edge.http.get("/v1/session/link", params={"code": token})
    assert_problem(as_link, 401, "not a sign-in link")
    expired = await edge.http.get("/v1/session/link", params={"code": edge.link(ttl_seconds=-5)})
    assert_problem(expired, 401, "expired")
    forged = await edge.http.get("/v1/me", headers=jar("x" * 43))
    assert_problem(forged, 401, "sign in again")
    # A bearer caller has no session to show.
    assert_problem(await edge.http.get("/v1/session", headers=edge.bearer()), 401, "cookie")

    # Over https the cookie is Secure, with the __Host- prefix.
    transport = httpx.ASGITransport(app=edge.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://sextant.test") as https:
        secure = await https.get("/v1/session/link", params={"code": edge.link()})
        assert secure.status_code == 303
        morsel = set_cookie(secure)["__Host-sextant_session"]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        https.cookies.clear()
        me = await https.get("/v1/me", headers=jar(morsel.value, "__Host-sextant_session"))
        assert me.json()["via"] == "session"


async def test_cookie_writes_need_the_csrf_token_and_bearer_tokens_need_none(
    edge: Edge,
) -> None:
    cookie = jar(await sign_in(edge, edge.link()))
    token = (await edge.http.get("/v1/session", headers=cookie)).json()["csrf_token"]
    body = {"name": "acme"}

    missing = await edge.http.post("/v1/tenants", json=body, headers=cookie)
    assert_problem(missing, 403, "X-CSRF-Token")
    wrong = await edge.http.post(
        "/v1/tenants", json=body, headers={**cookie, "X-CSRF-Token": "A" * 43}
    )
    assert_problem(wrong, 403, "X-CSRF-Token")
    elsewhere = await edge.http.post(
        "/v1/tenants",
        json=body,
        headers={**cookie, "X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert_problem(elsewhere, 403, "http://127.0.0.1:8080")
    made = await edge.http.post(
        "/v1/tenants",
        json=body,
        headers={**cookie, "X-CSRF-Token": token, "Origin": "http://127.0.0.1:8080"},
    )
    assert made.status_code == 201, made.text
    # A read needs no token; a bearer write needs none, cookie or not (the cookie is ignored).
    assert (await edge.http.get("/v1/tenants", headers=cookie)).status_code == 200
    bearer = await edge.http.post(
        "/v1/tenants", json={"name": "beta"}, headers={**cookie, **edge.bearer()}
    )
    assert bearer.status_code == 201, bearer.text

    # Another session's token is not this one's.
    other = jar(await sign_in(edge, edge.link()))
    other_token = (await edge.http.get("/v1/session", headers=other)).json()["csrf_token"]
    assert other_token != token
    crossed = await edge.http.post(
        "/v1/tenants", json=body, headers={**cookie, "X-CSRF-Token": other_token}
    )
    assert_problem(crossed, 403, "X-CSRF-Token")


async def test_sign_out_and_expiry_end_a_session_and_its_link_stays_spent(edge: Edge) -> None:
    code = edge.link()
    cookie = jar(await sign_in(edge, code))
    token = (await edge.http.get("/v1/session", headers=cookie)).json()["csrf_token"]

    assert_problem(await edge.http.delete("/v1/session", headers=cookie), 403, "X-CSRF-Token")
    out = await edge.http.delete("/v1/session", headers={**cookie, "X-CSRF-Token": token})
    assert out.status_code == 204
    cleared = set_cookie(out)["sextant_session"]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    edge.http.cookies.clear()
    assert_problem(await edge.http.get("/v1/me", headers=cookie), 401, "sign in again")
    again = await edge.http.get("/v1/session/link", params={"code": code})
    assert_problem(again, 409, "used already")

    # A session past its expiry is refused like an ended one.
    later = jar(await sign_in(edge, edge.link()))
    assert (await edge.http.get("/v1/me", headers=later)).status_code == 200
    db = edge.app.state.service.db
    async with db.transaction() as session:
        await session.execute(
            sa.update(browser_sessions).values(expires_at=sa.func.now() - sa.text("interval '1s'"))
        )
    assert_problem(await edge.http.get("/v1/me", headers=later), 401, "sign in again")


async def test_the_portal_is_served_at_the_root_without_shadowing_the_api(edge: Edge) -> None:
    page = await edge.http.get("/")
    assert page.status_code == 200
    assert page.text == INDEX
    assert page.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    route = await edge.http.get("/forecasts")  # a client-side route: the app's page
    assert route.text == INDEX
    head = await edge.http.head("/forecasts")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(INDEX))
    written = await edge.http.post("/forecasts")
    assert_problem(written, 405, "Method Not Allowed")
    assert set(written.headers["allow"].split(", ")) == {"GET", "HEAD"}
    asset = await edge.http.get("/assets/index-3f9a1c.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert_problem(await edge.http.get("/assets/gone-1b2c.js"), 404, "/assets/gone-1b2c.js")

    # The platform's own paths answer as before.
    assert_problem(await edge.http.get("/v1/not-a-route"), 401, "Bearer")
    assert_problem(await edge.http.get("/internal/anything"), 404, "/internal/anything")
    assert (await edge.http.get("/healthz")).json() == {"status": "ok"}
    assert (await edge.http.get("/openapi.json")).json()["openapi"].startswith("3.")
    assert "swagger-ui" in (await edge.http.get("/docs")).text
    metrics = await edge.http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    # The session routes are in the public API's document.
    paths = (await edge.http.get("/openapi.json")).json()["paths"]
    assert {"/v1/session", "/v1/session/link"} <= set(paths)

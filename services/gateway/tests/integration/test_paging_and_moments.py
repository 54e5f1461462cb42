"""Every gateway list refuses a cursor it did not give out, and a date it cannot store, with
a 400/422 problem naming the parameter (issue #25 item 7: a cursor of ``²`` or twenty
digits, or a year-1 date at +01:00, answered 500); the cursors it gives out still page."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.main import create_app
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import served as served_on_loopback
from sextant.runtime.testing.apps import service_settings
from sextant.runtime.testing.checks import check_forged_cursors_are_refused
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())
LISTS = (
    "/v1/tenants",
    "/v1/workspaces",
    "/v1/views",
    "/v1/audit-log",
    "/v1/notifications",
    "/v1/subscriptions",
)


def bearer(role: str, tenant: str | None = None) -> dict[str, str]:
    token = ISSUER.mint(subject=f"{role}@test", role=role, tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Served:
    http: httpx.AsyncClient
    ws_url: str
    platform: dict[str, str]
    admin: dict[str, str]

    def headers(self, path: str) -> dict[str, str]:
        return self.platform if path == "/v1/tenants" else self.admin


@pytest.fixture(scope="module")
async def module_database(postgres_url: str) -> AsyncIterator[str]:
    """One database for the module: its tests only read what the fixture wrote."""
    name = f"t_paging_{secrets.token_hex(4)}"
    admin_dsn = plain_dsn(postgres_url)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture(scope="module")
async def served(module_database: str, internal_keys: InternalKeys) -> AsyncIterator[Served]:
    """The gateway on a loopback port (the notification stream needs a real socket), with a
    tenant of three workspaces; shared by the module's tests, which only read."""
    database_url = module_database
    app = create_app(
        service_settings(database_url, internal_keys), upstreams=Upstreams({}), local_issuer=ISSUER
    )
    async with served_on_loopback(app) as url, httpx.AsyncClient(base_url=url) as http:
        platform = bearer("platform_admin")
        created = await http.post("/v1/tenants", json={"name": "paging"}, headers=platform)
        admin = bearer("tenant_admin", created.json()["id"])
        for name in ("a", "b", "c"):
            made = await http.post("/v1/workspaces", json={"name": name}, headers=admin)
            assert made.status_code == 201, made.text
        ws_url = url.replace("http://", "ws://") + "/v1/notifications/stream"
        yield Served(http, ws_url, platform, admin)


def assert_problem(response: httpx.Response, status: int, names: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert names in response.json()["detail"], response.json()


@pytest.mark.parametrize("path", LISTS)
async def test_a_cursor_the_api_did_not_give_out_is_refused_naming_it(
    served: Served, path: str
) -> None:
    await check_forged_cursors_are_refused(served.http, path, served.headers(path))


async def test_a_cursor_of_one_list_is_refused_by_another(served: Served) -> None:
    workspaces = await served.http.get("/v1/workspaces", params={"limit": 1}, headers=served.admin)
    cursor = workspaces.json()["next_cursor"]
    assert cursor is not None
    assert (
        await served.http.get("/v1/views", params={"cursor": cursor}, headers=served.admin)
    ).status_code == 200  # same kind (after a row id): an empty page, not an error
    audit = await served.http.get("/v1/audit-log", params={"cursor": cursor}, headers=served.admin)
    assert_problem(audit, 400, "cursor")


async def test_the_cursors_given_out_page_through_every_row_once(served: Served) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await served.http.get("/v1/workspaces", params=params, headers=served.admin)).json()
        seen += [w["name"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["a", "b", "c"]
    assert cursor is None


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "0001-01-01T00:00:00Z",  # asyncpg's -infinity
        "9999-12-31T23:59:59.999999Z",  # asyncpg's infinity
        "0001-01-01T00:00:00-14:00",  # storable, but a day's arithmetic from the edge
    ],
)
async def test_audit_dates_outside_what_can_be_stored_are_refused_naming_them(
    served: Served, moment: str
) -> None:
    for name in ("since", "until"):
        response = await served.http.get(
            "/v1/audit-log", params={name: moment}, headers=served.admin
        )
        assert_problem(response, 422, name)


async def test_audit_dates_at_the_edges_that_can_be_stored_are_answered(served: Served) -> None:
    async with asyncio.timeout(20):  # the audit log is written from the bus
        while not (await served.http.get("/v1/audit-log", headers=served.admin)).json()["items"]:
            await asyncio.sleep(0.05)
    everything = await served.http.get(
        "/v1/audit-log",
        params={"since": "0001-01-01T10:00:00-14:00", "until": "9999-12-31T00:00:00+14:00"},
        headers=served.admin,
    )
    assert everything.status_code == 200, everything.text
    assert len(everything.json()["items"]) >= 1  # the tenant's creation at least
    nothing = await served.http.get(
        "/v1/audit-log", params={"until": "0001-01-02T00:00:00Z"}, headers=served.admin
    )
    assert nothing.status_code == 200 and nothing.json()["items"] == []


async def test_a_notification_seq_past_bigint_is_refused_naming_it(served: Served) -> None:
    for after in ("9223372036854775808", "9" * 20):
        response = await served.http.get(
            "/v1/notifications", params={"after": after}, headers=served.admin
        )
        assert_problem(response, 422, "after")
    assert (
        await served.http.get(
            "/v1/notifications", params={"after": "9223372036854775807"}, headers=served.admin
        )
    ).status_code == 200


async def test_a_stream_after_a_seq_that_is_not_one_is_refused_with_a_policy_close(
    served: Served,
) -> None:
    token = served.admin["Authorization"].removeprefix("Bearer ")
    for after in ("²", "9" * 20, "-1"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{served.ws_url}?access_token={token}&after={after}"):
                pass
        # Closed before the handshake completes: 403, not a crash's 500.
        assert refused.value.response.status_code == 403

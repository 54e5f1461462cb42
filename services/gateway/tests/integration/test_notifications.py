"""Notifications from the topic to people: stored per tenant, listed and marked read, and
streamed over a real WebSocket: a tenant's subscribers get theirs (for their role) and
never another tenant's; a client that reconnects with its last seq gets what it missed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import NotificationRaised
from sextant.contracts.topics import NOTIFICATIONS
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.handlers import HANDLERS
from sextant.gateway.main import create_app
from sextant.gateway.notifications import CHANNEL
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceState
from sextant.runtime.consumer import Batched
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import served as served_on_loopback
from sextant.runtime.testing.apps import service_settings
from sextant.runtime.testing.plugin import InternalKeys

ISSUER = LocalIssuer.from_pem(new_local_issuer_pem())


def token(role: str, tenant: UUID | None = None) -> str:
    return ISSUER.mint(subject=f"{role}@{tenant}", role=role, tenant_id=tenant, ttl_seconds=600)  # type: ignore[arg-type]


@dataclass
class Served:
    http: httpx.AsyncClient
    ws_url: str
    state: ServiceState

    async def raise_notification(self, tenant: UUID, title: str, audience: list[str]) -> None:
        async with self.state.db.transaction(tenant) as session:
            await self.state.outbox.add(
                session,
                NotificationRaised(
                    notification_id=uuid7(),
                    severity="warning",
                    audience=audience,  # type: ignore[arg-type]
                    title=title,
                    body="details",
                    raised_by="test",
                ),
                tenant_id=tenant,
                entity="notification",
            )


@pytest.fixture
async def served(
    database_url: str, internal_keys: InternalKeys, request: pytest.FixtureRequest
) -> AsyncIterator[Served]:
    """The gateway on a loopback port; ``indirect`` parameters are its settings."""
    app = create_app(
        service_settings(database_url, internal_keys),
        upstreams=Upstreams({}),
        local_issuer=ISSUER,
        gateway_settings=GatewaySettings(**getattr(request, "param", {})),
    )
    async with served_on_loopback(app) as url, httpx.AsyncClient(base_url=url) as http:
        ws_url = url.replace("http://", "ws://") + "/v1/notifications/stream"
        yield Served(http, ws_url, app.state.service)


async def next_notification(ws: ClientConnection, seconds: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "notification":
                result: dict[str, Any] = message["notification"]
                return result


async def nothing_arrives(ws: ClientConnection, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] == "heartbeat", message
    except TimeoutError:
        return


async def test_a_tenants_notification_reaches_its_subscribers_by_role_and_never_another_tenant(
    served: Served,
) -> None:
    admin = {"Authorization": f"Bearer {token('platform_admin')}"}
    a = UUID(
        (await served.http.post("/v1/tenants", json={"name": "A"}, headers=admin)).json()["id"]
    )
    b = UUID(
        (await served.http.post("/v1/tenants", json={"name": "B"}, headers=admin)).json()["id"]
    )

    async with (
        connect(
            served.ws_url, additional_headers={"Authorization": f"Bearer {token('member', a)}"}
        ) as a_member,
        connect(f"{served.ws_url}?access_token={token('member', b)}") as b_member,
    ):
        await served.raise_notification(a, "A's backfill failed", ["member", "tenant_admin"])
        got = await next_notification(a_member)
        assert got["title"] == "A's backfill failed" and got["read"] is False
        await served.raise_notification(a, "for A's admins only", ["tenant_admin"])
        await served.raise_notification(a, "A again", ["member"])
        assert (await next_notification(a_member))["title"] == "A again"
        await nothing_arrives(b_member, 1.0)
        last_seq = got["seq"]

    # Missed while away: replayed on reconnect, in order, then live.
    await served.raise_notification(a, "missed 1", ["member"])
    await served.raise_notification(a, "missed 2", ["member"])
    async with connect(
        f"{served.ws_url}?after={last_seq}&access_token={token('member', a)}"
    ) as again:
        titles = [(await next_notification(again))["title"] for _ in range(3)]
        assert titles == ["A again", "missed 1", "missed 2"]

    member_a = {"Authorization": f"Bearer {token('member', a)}"}
    listed = (await served.http.get("/v1/notifications", headers=member_a)).json()["items"]
    assert [n["title"] for n in listed] == [
        "missed 2",
        "missed 1",
        "A again",
        "A's backfill failed",
    ]
    marked = await served.http.post(f"/v1/notifications/{listed[0]['id']}/read", headers=member_a)
    assert marked.json() == {"marked": 1}
    unread = (
        await served.http.get("/v1/notifications", params={"unread": "true"}, headers=member_a)
    ).json()
    assert len(unread["items"]) == 3
    assert (await served.http.post("/v1/notifications/read", json={}, headers=member_a)).json() == {
        "marked": 3
    }
    other = await served.http.post(
        f"/v1/notifications/{listed[0]['id']}/read",
        headers={"Authorization": f"Bearer {token('member', b)}"},
    )
    assert other.status_code == 404
    assert (
        await served.http.get(
            "/v1/notifications", headers={"Authorization": f"Bearer {token('member', b)}"}
        )
    ).json()["items"] == []


async def test_a_stream_without_a_valid_token_is_refused(served: Served) -> None:
    for url in (
        served.ws_url,
        f"{served.ws_url}?access_token=forged",
        f"{served.ws_url}?access_token={token('platform_admin')}",
    ):
        with pytest.raises(InvalidStatus):
            async with connect(url):
                pass


async def test_the_portals_session_cookie_opens_the_stream_from_its_own_origin_only(
    served: Served,
) -> None:
    """A browser cannot set headers on a WebSocket: the portal's page streams with its
    session cookie, and the handshake must come from the gateway's own origin (another
    site's page would send its user's cookie too). The portal's platform admin acts on a
    tenant through /v1/tenants/{id}/… and reads what its admins read. Sign-out ends that
    way in."""
    admin = {"Authorization": f"Bearer {token('platform_admin')}"}
    a = UUID(
        (await served.http.post("/v1/tenants", json={"name": "A"}, headers=admin)).json()["id"]
    )
    code = ISSUER.mint_sign_in(
        subject="platform-admin@local", role="platform_admin", tenant_id=None, ttl_seconds=600
    )
    link = await served.http.get("/v1/session/link", params={"code": code})
    assert link.status_code == 303, link.text
    cookie = link.cookies["sextant_session"]
    served.http.cookies.clear()
    jar = {"Cookie": f"sextant_session={cookie}"}
    own = str(served.http.base_url).rstrip("/")
    on_a = served.ws_url.replace("/v1/", f"/v1/tenants/{a}/")

    async with connect(on_a, origin=own, additional_headers=jar) as page:  # type: ignore[arg-type]
        await served.raise_notification(a, "deployment failed", ["tenant_admin"])
        assert (await next_notification(page))["title"] == "deployment failed"
    listed = await served.http.get(f"/v1/tenants/{a}/notifications", headers=jar)
    assert [n["title"] for n in listed.json()["items"]] == ["deployment failed"]

    for origin in ("http://evil.example", None):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(on_a, origin=origin, additional_headers=jar):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403

    csrf = (await served.http.get("/v1/session", headers=jar)).json()["csrf_token"]
    out = await served.http.delete("/v1/session", headers={**jar, "X-CSRF-Token": csrf})
    assert out.status_code == 204, out.text
    with pytest.raises(InvalidStatus):
        async with connect(on_a, origin=own, additional_headers=jar):  # type: ignore[arg-type]
            pass


@pytest.mark.parametrize(
    "served",
    [{"anonymous_failure_burst": 3, "anonymous_failure_rate_per_second": 0.01}],
    indirect=True,
)
async def test_failed_stream_sign_ins_spend_the_addresss_allowance_like_any_other(
    served: Served,
) -> None:
    """A WebSocket is a door too: forged keys on it are limited per address, and once
    the address is over, an API key gets 429 on HTTP before any lookup."""
    for _ in range(3):
        with pytest.raises(InvalidStatus):
            async with connect(f"{served.ws_url}?access_token=sxk_0123456789abcdef_forged"):
                pass
    refused = await served.http.get(
        "/v1/notifications", headers={"Authorization": "Bearer sxk_0123456789abcdef_forged"}
    )
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1


async def test_a_stream_handshake_with_latin1_header_bytes_is_refused_cleanly(
    served: Served,
) -> None:
    """Header bytes outside ASCII on the WebSocket path: an ordinary refusal (no
    credential), never a server error, and the server goes on serving."""
    host, port = served.ws_url.removeprefix("ws://").split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /v1/notifications/stream HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"X-Thing: caf\xe9 \xff\r\nOrigin: http://\xe9xample\r\n\r\n"
    )
    await writer.drain()
    async with asyncio.timeout(10):
        status = await reader.readline()
    writer.close()
    assert status.startswith(b"HTTP/1.1 403"), status
    assert (await served.http.get("/v1/auth/jwks.json")).status_code == 200


def raised_envelope(tenant: UUID, title: str) -> Envelope:
    return Envelope.wrap(
        NotificationRaised(
            notification_id=uuid7(),
            severity="info",
            audience=["manager"],
            title=title,
            body="details",
            raised_by="test",
        ),
        source="/sextant/forecast",
        tenantid=tenant,
        subject="notification",
    )


async def test_a_batch_of_notifications_is_kept_in_order_with_one_wake_up(
    served: Served, database_url: str
) -> None:
    """The notifications handler is Batched: three of one tenant's notifications in one
    transaction are stored in order and wake the streams once, at commit; the same batch
    again (a redelivery) stores nothing and wakes no one."""
    handler = HANDLERS[NOTIFICATIONS.name]
    assert isinstance(handler, Batched)
    tenant = uuid7()
    batch = [raised_envelope(tenant, f"batched {n}") for n in range(3)]
    woken: list[str] = []
    dsn = plain_dsn(database_url)
    listener = await asyncpg.connect(dsn)
    try:
        await listener.add_listener(CHANNEL, lambda *args: woken.append(args[3]))
        for _ in range(2):
            async with served.state.db.transaction(tenant) as session:
                await handler.handle_many(session, batch)
        await asyncio.sleep(0.5)  # NOTIFYs arrive at commit; give a stray second one time
        titles = await listener.fetch(
            "SELECT title FROM gateway.notifications WHERE tenant_id = $1 ORDER BY seq", tenant
        )
    finally:
        await listener.close()
    assert [r["title"] for r in titles] == ["batched 0", "batched 1", "batched 2"]
    assert woken == [str(tenant)]

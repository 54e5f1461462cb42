"""Partner subscriptions end to end: events from the bus POSTed to a real HTTP receiver
on loopback, signed per Standard Webhooks (verified here by hand from the secret alone),
retried after a 500, the subscription disabled after repeated failures with the tenant's
admins notified, another tenant's events never sent, and URLs the egress policy forbids
refused — when set, naming the field, and, for one stored anyway, before any connection.

The gateway runs with loopback opened to plain http (``SEXTANT_EGRESS_ALLOW=127.0.0.1``,
as a developer would for a local receiver); everything else is the default policy."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sextant.contracts import uuid7
from sextant.contracts.events.platform import GateEvaluated
from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.db import subscriptions as subscriptions_table
from sextant.gateway.db import webhooks as repository
from sextant.gateway.db.webhooks import SubscriptionRow
from sextant.gateway.main import create_app
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.subscriptions import (
    GATEWAY_KEYS,
    seal_at_start,
    seal_stored_secrets,
    worker_of,
)
from sextant.gateway.upstreams import Upstreams
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.sealing import SecretBox, key_id_of
from sextant.runtime.testing.apps import served as served_on_loopback
from sextant.runtime.testing.apps import service_settings
from sextant.runtime.testing.checks import check_forged_cursors_are_refused
from sextant.runtime.testing.plugin import InternalKeys

GATE = "sextant.gates.evaluated.v1"
T = TypeVar("T")


@dataclass
class Receiver:
    """A partner's endpoint: records every request; answers each path's scripted statuses
    in turn (then 204), or holds the request ``hang_seconds`` when the path says so."""

    url: str = ""
    seen: dict[str, list[Request | dict[str, Any]]] = field(default_factory=dict)
    script: dict[str, list[int]] = field(default_factory=dict)
    hang_seconds: float = 1.5
    arrivals: dict[str, list[float]] = field(default_factory=dict)

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        self.seen.setdefault(name, []).append({"headers": dict(request.headers), "body": body})
        self.arrivals.setdefault(name, []).append(asyncio.get_running_loop().time())
        if name.startswith("hang"):
            await asyncio.sleep(self.hang_seconds)
        statuses = self.script.get(name) or [204]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return Response(status_code=status)


@dataclass
class Stack:
    http: httpx.AsyncClient
    state: ServiceState
    receiver: Receiver
    issuer: LocalIssuer

    def headers(self, role: str, tenant: UUID | None = None) -> dict[str, str]:
        token = self.issuer.mint(
            subject=f"{role}@{tenant}",
            role=role,  # type: ignore[arg-type]
            tenant_id=tenant,
            ttl_seconds=600,
        )
        return {"Authorization": f"Bearer {token}"}

    async def tenant(self) -> UUID:
        reply = await self.http.post(
            "/v1/tenants", json={"name": "t"}, headers=self.headers("platform_admin")
        )
        return UUID(reply.json()["id"])

    async def subscribe(self, tenant: UUID, path: str, types: list[str] | None = None) -> Any:
        reply = await self.http.post(
            "/v1/subscriptions",
            json={"url": f"{self.receiver.url}/{path}", "event_types": types or [GATE]},
            headers=self.headers("tenant_admin", tenant),
        )
        assert reply.status_code == 201, reply.text
        return reply.json()

    async def gate_evaluated(self, tenant: UUID, sha: str) -> UUID:
        """A gate evaluation on the bus, as insights publishes it: its event id."""
        event = GateEvaluated(
            evaluation_id=uuid7(),
            scope=f"workspace:{uuid7()}",
            repository="acme/web",
            sha=sha,
            environment="production",
            policy_version=0,
            verdict="pass",
            rules=[],
            requested_by="ci",
            evaluated_at=datetime.now(UTC),
        )
        async with self.state.db.transaction(tenant) as session:
            envelope = await self.state.outbox.add(
                session, event, tenant_id=tenant, entity=f"gate/{event.evaluation_id}"
            )
        return envelope.id

    async def deliveries(self, tenant: UUID, subscription_id: str) -> list[dict[str, Any]]:
        reply = await self.http.get(
            f"/v1/subscriptions/{subscription_id}/deliveries",
            headers=self.headers("tenant_admin", tenant),
        )
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        return items


async def eventually(probe: Callable[[], Awaitable[T | None]], seconds: float = 20) -> T:
    """``probe``'s first truthy answer, polled."""
    async with asyncio.timeout(seconds):
        while True:
            found = await probe()
            if found:
                return found
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def module_database(postgres_url: str) -> AsyncIterator[str]:
    """One database for the module's tests, each working in tenants of its own (the
    plugin's database is per test, and a gateway per test costs seconds)."""
    name = f"t_subscriptions_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture(scope="module")
async def stack(module_database: str, internal_keys: InternalKeys) -> AsyncIterator[Stack]:
    receiver = Receiver()
    routes = [Route("/{name}", receiver.endpoint, methods=["POST"])]
    issuer = LocalIssuer.from_pem(new_local_issuer_pem())
    app = create_app(
        service_settings(
            module_database, internal_keys, egress_allow=["127.0.0.1"], egress_allow_http=True
        ),
        upstreams=Upstreams({}),
        local_issuer=issuer,
        gateway_settings=GatewaySettings(
            subscription_timeout_seconds=1.0,
            subscription_max_attempts=3,
            subscription_backoff_seconds=0.05,
            subscription_backoff_cap_seconds=0.2,
            subscription_disable_after=4,
            subscription_poll_seconds=0.05,
        ),
    )
    async with (
        served_on_loopback(Starlette(routes=routes)) as receiver_url,
        served_on_loopback(app) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        receiver.url = receiver_url
        yield Stack(http, app.state.service, receiver, issuer)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written from the specification: HMAC-SHA256 under the secret's
    base64-decoded key over ``id.timestamp.body``, any ``v1,`` signature matching."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.removeprefix("v1,") for s in headers["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(expected, g) for g in given)


async def test_a_delivery_is_signed_and_another_tenants_events_are_never_sent(
    stack: Stack,
) -> None:
    a, b = await stack.tenant(), await stack.tenant()
    a_sub = await stack.subscribe(a, "a-partner")
    b_sub = await stack.subscribe(b, "b-partner")
    assert a_sub["secret"].startswith("whsec_") and a_sub["status"] == "active"

    a_event = await stack.gate_evaluated(a, "a" * 40)
    b_event = await stack.gate_evaluated(b, "b" * 40)
    [got] = await eventually(lambda: _seen(stack, "a-partner", 1))
    await eventually(lambda: _seen(stack, "b-partner", 1))

    headers, body = got["headers"], got["body"]
    assert verify(a_sub["secret"], headers, body)
    assert not verify(b_sub["secret"], headers, body)
    assert headers["webhook-id"] == str(a_event)
    assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    sent = json.loads(body)
    assert sent["type"] == GATE and sent["tenantid"] == str(a)
    assert sent["data"]["sha"] == "a" * 40 and "traceparent" not in sent
    # B's event went to B's receiver only, once.
    [b_got] = stack.receiver.seen["b-partner"]
    assert b_got["headers"]["webhook-id"] == str(b_event)  # type: ignore[index]
    assert len(stack.receiver.seen["a-partner"]) == 1

    [logged] = await eventually(lambda: _settled(stack, a, a_sub["id"]))
    assert logged["status"] == "delivered" and logged["attempts"] == 1
    assert logged["last_status_code"] == 204 and logged["event_id"] == str(a_event)
    # A's admin cannot read B's subscription or its log.
    other = await stack.http.get(
        f"/v1/subscriptions/{b_sub['id']}/deliveries", headers=stack.headers("tenant_admin", a)
    )
    assert other.status_code == 404


async def test_a_500_is_retried_with_the_same_id_and_then_delivered(stack: Stack) -> None:
    tenant = await stack.tenant()
    stack.receiver.script["flaky"] = [500, 204]
    sub = await stack.subscribe(tenant, "flaky")
    event = await stack.gate_evaluated(tenant, "c" * 40)

    tries = await eventually(lambda: _seen(stack, "flaky", 2))
    assert [t["headers"]["webhook-id"] for t in tries] == [str(event), str(event)]
    assert all(verify(sub["secret"], t["headers"], t["body"]) for t in tries)
    [logged] = await eventually(lambda: _settled(stack, tenant, sub["id"]))
    assert logged["status"] == "delivered" and logged["attempts"] == 2
    assert logged["last_status_code"] == 204 and logged["last_error"] is None


async def test_repeated_failures_disable_the_subscription_and_notify_the_admins(
    stack: Stack,
) -> None:
    """At most 3 attempts a delivery, disabled after 4 failed attempts in a row: the
    first delivery fails for good (3), the second's first failure (4) disables it, and its
    remaining delivery is abandoned; nothing more is sent."""
    tenant = await stack.tenant()
    stack.receiver.script["dead"] = [500]
    sub = await stack.subscribe(tenant, "dead")
    await stack.gate_evaluated(tenant, "d" * 40)
    await eventually(lambda: _seen(stack, "dead", 3))
    await stack.gate_evaluated(tenant, "e" * 40)

    async def disabled() -> dict[str, Any] | None:
        reply = await stack.http.get(
            f"/v1/subscriptions/{sub['id']}", headers=stack.headers("tenant_admin", tenant)
        )
        shown: dict[str, Any] = reply.json()
        return shown if shown["status"] == "disabled" else None

    shown = await eventually(disabled)
    assert shown["consecutive_failures"] == 4
    assert "4 consecutive failed deliveries" in shown["disabled_reason"]
    assert "answered 500" in shown["disabled_reason"]
    log = await stack.deliveries(tenant, sub["id"])
    assert [(d["status"], d["attempts"]) for d in log] == [("failed", 3), ("abandoned", 1)]

    async def notified() -> list[dict[str, Any]] | None:
        reply = await stack.http.get(
            "/v1/notifications", headers=stack.headers("tenant_admin", tenant)
        )
        items: list[dict[str, Any]] = reply.json()["items"]
        return [n for n in items if n["title"] == "A webhook subscription was disabled"]

    [notice] = await eventually(notified)
    assert notice["severity"] == "error" and f"{stack.receiver.url}/dead" in notice["body"]
    await stack.gate_evaluated(tenant, "f" * 40)
    await asyncio.sleep(0.5)
    assert len(stack.receiver.seen["dead"]) == 4


async def test_a_hanging_receiver_does_not_hold_up_another_tenant(stack: Stack) -> None:
    """Tenant A's receiver holds every request for 1.5 s (the timeout is 1 s); B's event,
    raised after A's three, is delivered while A's are still hanging."""
    a, b = await stack.tenant(), await stack.tenant()
    await stack.subscribe(a, "hang-a")
    await stack.subscribe(b, "prompt-b")
    for n in range(3):
        await stack.gate_evaluated(a, f"{n}" * 40)
    await eventually(lambda: _seen(stack, "hang-a", 1))
    started = asyncio.get_running_loop().time()
    await stack.gate_evaluated(b, "9" * 40)
    await eventually(lambda: _seen(stack, "prompt-b", 1), seconds=5)
    assert asyncio.get_running_loop().time() - started < 1.0
    # Two at a time at most to one subscription: A's third is sent only once one of the
    # first two gave up (the 1 s timeout).
    await eventually(lambda: _seen(stack, "hang-a", 3), seconds=10)
    first, _, third = stack.receiver.arrivals["hang-a"][:3]
    assert third - first >= 0.9


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example.com/hook",  # plain http to a host not opened to it
        "https://10.0.0.5/hook",
        "https://192.168.1.10:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://127.0.0.2/hook",  # loopback, but not the address the operator opened
        "https://203.0.113.7/hook",  # documentation range: not a public address
        "partner.example.com/hook",
    ],
)
async def test_a_url_the_egress_policy_refuses_is_refused_naming_the_field(
    stack: Stack, url: str
) -> None:
    tenant = await stack.tenant()
    admin = stack.headers("tenant_admin", tenant)
    reply = await stack.http.post(
        "/v1/subscriptions", json={"url": url, "event_types": [GATE]}, headers=admin
    )
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"].startswith("body.url: ")
    listed = await stack.http.get("/v1/subscriptions", headers=admin)
    assert listed.json()["items"] == []


async def test_a_stored_url_aimed_at_loopback_by_name_is_refused_before_connecting(
    stack: Stack,
) -> None:
    """A subscription stored before its URL was checked: ``localhost`` resolves to the
    receiver's very address, yet the delivery is refused before a connection."""
    tenant = await stack.tenant()
    port = stack.receiver.url.rsplit(":", 1)[1]
    sneaky = uuid7()
    row = SubscriptionRow(
        tenant_id=tenant,
        id=sneaky,
        url=f"https://localhost:{port}/sneaky",
        description="",
        event_types=[GATE],
        sealed_secret=worker_of(stack.state).box.seal(
            "whsec_" + base64.b64encode(bytes(32)).decode(), sneaky
        ),
        status="active",
        consecutive_failures=0,
        disabled_reason=None,
        created_by="test",
        created_at=datetime.now(UTC),
        deleted_at=None,
    )
    async with stack.state.db.transaction(tenant) as session:
        await repository.create_subscription(session, row)
    await stack.gate_evaluated(tenant, "1" * 40)

    async def refused() -> list[dict[str, Any]] | None:
        log = await stack.deliveries(tenant, str(row.id))
        return log if log and log[0]["attempts"] >= 1 else None

    [logged] = await eventually(refused)
    assert logged["last_error"].startswith("refused by the egress policy: "), logged
    assert logged["last_status_code"] is None
    assert "sneaky" not in stack.receiver.seen


async def test_subscriptions_are_validated_paged_deleted_and_for_admins_only(
    stack: Stack,
) -> None:
    tenant = await stack.tenant()
    admin = stack.headers("tenant_admin", tenant)
    unknown = await stack.http.post(
        "/v1/subscriptions",
        json={"url": f"{stack.receiver.url}/x", "event_types": ["sextant.nope.v1"]},
        headers=admin,
    )
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("body.event_types: unknown event type(s)")
    member = await stack.http.get("/v1/subscriptions", headers=stack.headers("member", tenant))
    assert member.status_code == 403

    first = await stack.subscribe(tenant, "paged-1")
    second = await stack.subscribe(tenant, "paged-2")
    page = (await stack.http.get("/v1/subscriptions?limit=1", headers=admin)).json()
    assert [s["id"] for s in page["items"]] == [first["id"]] and "secret" not in page["items"][0]
    rest = await stack.http.get(
        f"/v1/subscriptions?limit=1&cursor={page['next_cursor']}", headers=admin
    )
    assert [s["id"] for s in rest.json()["items"]] == [second["id"]]
    deliveries = f"/v1/subscriptions/{second['id']}/deliveries"
    await check_forged_cursors_are_refused(stack.http, deliveries, admin)

    deleted = await stack.http.delete(f"/v1/subscriptions/{first['id']}", headers=admin)
    assert deleted.status_code == 200
    again = await stack.http.get(f"/v1/subscriptions/{first['id']}", headers=admin)
    assert again.status_code == 404
    await stack.gate_evaluated(tenant, "2" * 40)
    await eventually(lambda: _seen(stack, "paged-2", 1))
    await asyncio.sleep(0.3)
    assert "paged-1" not in stack.receiver.seen

    async def audited() -> list[str] | None:
        reply = await stack.http.get("/v1/audit-log", headers=admin)
        actions = [e["action"] for e in reply.json()["items"]]
        return actions if "subscription.delete" in actions else None

    actions = await eventually(audited)
    assert actions.count("subscription.create") == 2


async def _seen(stack: Stack, path: str, count: int) -> list[dict[str, Any]] | None:
    got = stack.receiver.seen.get(path, [])
    return got if len(got) >= count else None  # type: ignore[return-value]


async def _settled(stack: Stack, tenant: UUID, subscription_id: str) -> list[dict[str, Any]] | None:
    log = await stack.deliveries(tenant, subscription_id)
    return log if log and all(d["status"] != "pending" for d in log) else None


async def test_secrets_are_kept_sealed_and_an_old_plaintext_one_is_sealed_at_start(
    stack: Stack,
) -> None:
    """The created subscription's row holds no plaintext, and its sealed secret opens (bound
    to its id) to the secret the reply gave; a row from before migration 0005, plaintext
    only, is sealed by the start's pass and still signs deliveries a receiver verifies."""
    tenant = await stack.tenant()
    created = await stack.subscribe(tenant, "sealed")
    box = worker_of(stack.state).box
    s = subscriptions_table
    async with stack.state.db.transaction(tenant) as session:
        [stored] = await session.execute(
            sa.select(s.c.secret, s.c.sealed_secret).where(s.c.id == UUID(created["id"]))
        )
        assert stored.secret is None
        assert created["secret"].encode() not in stored.sealed_secret
        assert box.open(stored.sealed_secret, UUID(created["id"])) == created["secret"]
        with pytest.raises(ValueError, match="does not open"):
            box.open(stored.sealed_secret, uuid7())  # bound to its own row
        old_secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
        await session.execute(
            sa.update(s).where(s.c.id == UUID(created["id"])).values(
                secret=old_secret, sealed_secret=None
            )
        )  # fmt: skip

    assert await seal_stored_secrets(stack.state.db, box, tenants_per_batch=1) >= 1
    assert await seal_stored_secrets(stack.state.db, box) == 0  # nothing left to seal
    await stack.gate_evaluated(tenant, "5" * 40)
    [got] = await eventually(lambda: _seen(stack, "sealed", 1))
    assert verify(old_secret, got["headers"], got["body"])


async def test_the_start_walks_the_tenants_once_per_key_and_again_after_a_rotation(
    stack: Stack,
) -> None:
    """The gateway's start left its mark under its key: a start with the same key walks
    nothing (a plaintext secret slipped in behind the mark stays so); a new current key
    walks and reseals everything once, and rotating back walks again."""
    tenant = await stack.tenant()
    created = await stack.subscribe(tenant, "marked")
    subscription, db, box = UUID(created["id"]), stack.state.db, worker_of(stack.state).box
    s = subscriptions_table

    async def stored() -> Any:
        async with db.transaction(tenant) as session:
            query = sa.select(s.c.secret, s.c.sealed_secret).where(s.c.id == subscription)
            return (await session.execute(query)).one()

    assert await seal_at_start(db, box) is None
    async with db.transaction(tenant) as session:
        await session.execute(
            sa.update(s).where(s.c.id == subscription).values(
                secret=created["secret"], sealed_secret=None
            )
        )  # fmt: skip
    assert await seal_at_start(db, box) is None
    assert (await stored()).secret == created["secret"]  # not walked

    key_file = stack.state.settings.data_dir / "keys" / GATEWAY_KEYS.key_file
    k0, k2 = base64.b64decode(key_file.read_text()), os.urandom(32)
    rotated = SecretBox({"k2": k2, "k0": k0}, "k2")
    assert (await seal_at_start(db, rotated) or 0) >= 1
    after = await stored()
    assert after.secret is None and key_id_of(after.sealed_secret) == "k2"
    assert rotated.open(after.sealed_secret, subscription) == created["secret"]
    assert await seal_at_start(db, rotated) is None

    assert (await seal_at_start(db, SecretBox({"k0": k0, "k2": k2}, "k0")) or 0) >= 1
    assert key_id_of((await stored()).sealed_secret) == "k0"
    assert await seal_at_start(db, box) is None
    # The mark is the key's, not its id's: a key file made anew as k0 walks (and writes
    # nothing: a reseal keeps what its key id already names), and so does the old key after.
    assert await seal_at_start(db, SecretBox({"k0": os.urandom(32)}, "k0")) == 0
    assert await seal_at_start(db, box) == 0
    assert await seal_at_start(db, box) is None

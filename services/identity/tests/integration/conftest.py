"""The identity service running on real PostgreSQL and the local bus, with helpers to act
as a role, attribute actors the way the activity consumer does, and read what reached
the bus."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from sextant.contracts import Envelope, from_kafka_binary, uuid7
from sextant.contracts.events.activity import Commit, CommitsPushed
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.identity import attribution
from sextant.identity.handlers import OUTBOX
from sextant.identity.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
PROBLEM = "application/problem+json"


@dataclass
class Identity:
    client: httpx.AsyncClient
    state: ServiceState
    keys: InternalKeys
    dsn: str
    tenant: UUID

    def as_role(self, role: str, tenant: UUID | None = None) -> dict[str, str]:
        token = self.keys.signer.mint(
            service="identity",
            subject=f"{role}-1",
            role=role,  # type: ignore[arg-type]
            tenant_id=tenant or self.tenant,
        )
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.as_role("tenant_admin")

    @property
    def member(self) -> dict[str, str]:
        return self.as_role("member")

    async def attribute(self, *actors: Actor, tenant: UUID | None = None) -> list[UUID]:
        """Attribute a push by ``actors`` in its own transaction, as the activity consumer
        does; the developer id each actor was attributed to."""
        tenant = tenant or self.tenant
        envelope = push(tenant, *actors, workspace_id=uuid7())
        async with self.state.db.transaction(tenant) as session:
            attributed = await attribution.attribute(session, OUTBOX, envelope)
        return [a.developer_id for a in attributed.attributions]

    async def aliases(self, developer_id: UUID) -> set[UUID]:
        response = await self.client.get(f"/v1/developers/{developer_id}", headers=self.member)
        assert response.status_code == 200, response.text
        return {UUID(a["id"]) for a in response.json()["aliases"]}

    async def events(self, type_: str) -> list[Envelope]:
        """The envelopes of ``type_`` for this tenant on the bus, once the relay has
        published everything staged so far (so an absence means something)."""
        conn = await asyncpg.connect(self.dsn)
        try:
            for _ in range(100):
                if not await conn.fetchval("SELECT count(*) FROM identity.outbox"):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the outbox relay did not drain")
            rows = await conn.fetch(
                'SELECT headers::text AS h, value FROM sextant_bus.records ORDER BY "offset"'
            )
        finally:
            await conn.close()
        envelopes = [
            from_kafka_binary([(n, base64.b64decode(v)) for n, v in json.loads(r["h"])], r["value"])
            for r in rows
        ]
        return [e for e in envelopes if e.type == type_ and e.tenantid == self.tenant]


@pytest.fixture
async def identity(database_url: str, internal_keys: InternalKeys) -> AsyncIterator[Identity]:
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        yield Identity(client, state, internal_keys, dsn, uuid7())


def push(tenant: UUID, *actors: Actor, workspace_id: UUID | None = None) -> Envelope:
    """A push with one commit by each of ``actors``, as ingest announces it."""
    data = CommitsPushed(
        source=SourceRef(kind="generic", source_id=uuid7(), external_id="p"),
        repository=Repository(external_id="1", full_name="o/r"),
        branch="main",
        after_sha="f" * 40,
        commits=[
            Commit(sha=f"{i:040x}", title="c", author=a, authored_at=NOW)
            for i, a in enumerate(actors)
        ],
        occurred_at=NOW,
    )
    return Envelope.wrap(
        data, source="/sextant/ingest", tenantid=tenant, workspaceid=workspace_id, subject="b"
    )


def person(name: str, email: str, **extra: Any) -> Actor:
    return Actor.model_validate({"kind": "generic", "display_name": name, "email": email, **extra})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body

"""The ingest service running on real PostgreSQL and the local bus, with helpers to act
as a role, send deliveries and read what reached the bus."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from sextant.contracts import Envelope, from_kafka_binary, uuid7
from sextant.ingest.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, OTHER_TENANT, WORKSPACE = uuid7(), uuid7(), uuid7()


@dataclass
class Ingest:
    client: httpx.AsyncClient
    state: ServiceState
    keys: InternalKeys
    dsn: str

    def as_role(self, role: str, tenant: UUID | None = TENANT) -> dict[str, str]:
        token = self.keys.signer.mint(
            service="ingest", subject=f"{role}-1", role=role, tenant_id=tenant
        )  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {token}"}

    async def source(self, kind: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/workspaces/{WORKSPACE}/sources",
            json={"kind": kind, "name": f"{kind} source", **extra},
            headers=self.as_role("tenant_admin"),
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def deliver(
        self, source: dict[str, Any], body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/hooks/{source['id']}",
            content=body,
            headers={"content-type": "application/json", **headers},
        )

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def published(self, topic: str, expect: int) -> list[Envelope]:
        """The envelopes on ``topic`` once at least ``expect`` are there (or after ~5 s)."""
        for _ in range(50):
            rows = await self.sql(
                'SELECT headers::text AS h, value FROM sextant_bus.records WHERE topic = $1 ORDER BY "offset"',
                topic,
            )
            if len(rows) >= expect:
                break
            await asyncio.sleep(0.1)
        return [
            from_kafka_binary([(n, base64.b64decode(v)) for n, v in json.loads(r["h"])], r["value"])
            for r in rows
        ]


@asynccontextmanager
async def running_ingest(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path, **runtime: Any
) -> AsyncIterator[Ingest]:
    """The service with these runtime settings, the defaults for the rest."""
    settings = service_settings(database_url, internal_keys, data_dir=tmp_path, **runtime)
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, settings) as (client, state):
        yield Ingest(client, state, internal_keys, dsn)


@pytest.fixture
async def ingest(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> AsyncIterator[Ingest]:
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        yield ingest

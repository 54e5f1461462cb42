"""Restore through the real consumer, PostgreSQL and the folder store: the archived events
of a range published again on their topic, marked with the restore, with progress; a bad
object fails the restore, naming it, before anything is published."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg

from sextant.archive import coldstore, restoring
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import DeveloperCreated
from sextant.contracts.topics import IDENTITY, entity_key
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.plugin import InternalKeys

from .test_cold_store import LATER, SETTINGS, admin_of, archive, staged

NINE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def developer(tenant: UUID, minute: int) -> Envelope:
    envelope = Envelope.wrap(
        DeveloperCreated(developer_id=UUID(int=minute + 1)),
        source="/sextant/identity",
        tenantid=tenant,
        subject=f"developer:{minute}",
    )
    return envelope.model_copy(update={"time": NINE + timedelta(minutes=minute)})


async def replays(database_url: str, restore_id: str) -> list[str]:
    """The ids of the events published on the identity topic as replays of the restore."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT headers::text AS h FROM sextant_bus.records WHERE topic = $1", IDENTITY.name
        )
    finally:
        await conn.close()
    found = []
    for r in rows:
        headers = {n: base64.b64decode(v).decode() for n, v in json.loads(r["h"])}
        if headers.get("ce_replayid") == restore_id:
            found.append(headers["ce_id"])
    return found


async def test_a_restore_publishes_its_range_again_as_replays_and_a_bad_object_fails_it(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant = uuid7()
    events = [developer(tenant, n) for n in range(4)]  # 09:00 .. 09:03, one object
    store = FolderObjectStore(tmp_path / "objects")
    async with archive(database_url, internal_keys, store) as (client, state):
        await state.bus.publish(
            [
                record_for(e, IDENTITY.name, entity_key(tenant, None, e.subject or ""))
                for e in events
            ]
        )
        await staged(database_url, 4)
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 2  # parts of 3 and 1
        headers = admin_of(internal_keys, tenant)

        asked = await client.post(
            "/v1/archive/restores",
            json={
                "topics": ["sextant.identity"],
                "since": "2026-03-01T09:01:00Z",
                "until": "2026-03-01T09:03:00Z",
            },
            headers=headers,
        )
        assert asked.status_code == 202, asked.text
        restore = asked.json()
        assert restore["status"] == "pending" and restore["events_published"] == 0
        assert asked.headers["location"] == f"/v1/archive/restores/{restore['id']}"

        assert await restoring.run_next(state)
        assert not await restoring.run_next(state)  # nothing else open
        progress = await client.get(asked.headers["location"], headers=headers)
        assert progress.status_code == 200, progress.text
        body = progress.json()
        assert (body["status"], body["objects_total"], body["objects_done"]) == ("done", 1, 1)
        assert body["events_published"] == 2 and body["finished_at"] is not None

        async def published() -> list[str]:
            async with asyncio.timeout(30):
                while True:
                    found = await replays(database_url, restore["id"])
                    if len(found) >= 2:
                        return found
                    await asyncio.sleep(0.05)

        assert sorted(await published()) == sorted(str(e.id) for e in events[1:3])

        # An altered object: the next restore fails naming it, and publishes nothing.
        key = f"tenant={tenant}/topic=sextant.identity/day=2026-03-01/part-00001.parquet"
        original = await store.get(key)
        await store.put(key, original[:-8] + b"\x00" * 8)
        again = await client.post(
            "/v1/archive/restores",
            json={
                "topics": ["sextant.identity"],
                "since": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
            },
            headers=headers,
        )
        assert await restoring.run_next(state)
        failed = (await client.get(again.headers["location"], headers=headers)).json()
        assert failed["status"] == "failed" and key in failed["failure"]
        assert failed["events_published"] == 0
        assert await replays(database_url, failed["id"]) == []

        # Refused: a topic that is not replayable, a range that ends before it starts,
        # another tenant's restore.
        config = await client.post(
            "/v1/archive/restores",
            json={
                "topics": ["sextant.config"],
                "since": "2026-03-01T00:00:00Z",
                "until": "2026-03-02T00:00:00Z",
            },
            headers=headers,
        )
        assert config.status_code == 422 and "topics" in config.text
        backwards = await client.post(
            "/v1/archive/restores",
            json={
                "topics": ["sextant.identity"],
                "since": "2026-03-02T00:00:00Z",
                "until": "2026-03-01T00:00:00Z",
            },
            headers=headers,
        )
        assert backwards.status_code == 422 and "until" in backwards.text
        foreign = await client.get(
            asked.headers["location"], headers=admin_of(internal_keys, uuid7())
        )
        assert foreign.status_code == 404

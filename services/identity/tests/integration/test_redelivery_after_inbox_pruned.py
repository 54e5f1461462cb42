"""An activity event redelivered after identity's inbox forgot it changes nothing: its
actors' aliases are keyed by their fingerprints, so they resolve to the same developers,
and the attributed copy is re-emitted under the same id, uuid5 of the event's fact id,
which the consumers downstream refuse as a copy."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import asyncpg

from sextant.contracts import Envelope, from_kafka_binary, uuid7
from sextant.contracts.topics import ACTIVITY, ACTIVITY_ATTRIBUTED, entity_key
from sextant.identity.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .conftest import person, push

TENANT, WORKSPACE = uuid7(), uuid7()
SPINE = ("inbox", "outbox", "alembic_version")


async def identity_state(conn: asyncpg.Connection) -> dict[str, list[Any]]:
    """Every row of every identity table but the spine's, in a stable order."""
    tables = [
        r[0]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity'"
            " AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        if r[0] not in SPINE
    ]
    return {
        t: sorted(
            (tuple(r) for r in await conn.fetch(f"SELECT * FROM identity.{t}")),
            key=repr,
        )
        for t in tables
    }


async def attributed_copies(conn: asyncpg.Connection) -> list[Envelope]:
    rows = await conn.fetch(
        'SELECT headers::text AS h, value FROM sextant_bus.records WHERE topic = $1 ORDER BY "offset"',
        ACTIVITY_ATTRIBUTED.name,
    )
    return [
        from_kafka_binary([(n, base64.b64decode(v)) for n, v in json.loads(r["h"])], r["value"])
        for r in rows
    ]


async def until(check: Any) -> None:
    async with asyncio.timeout(30):
        while not await check():
            await asyncio.sleep(0.05)


async def test_an_activity_event_redelivered_after_its_inbox_row_was_pruned_changes_nothing(
    database_url: str, internal_keys: InternalKeys
) -> None:
    settings = service_settings(
        database_url, internal_keys, inbox_retention_days=1, inbox_prune_every_seconds=0.1
    )
    event = push(
        TENANT,
        person("Ada Lovelace", "ada@example.com"),
        person("Grace Hopper", "grace@example.com"),
        workspace_id=WORKSPACE,
    )
    record = record_for(event, ACTIVITY.name, entity_key(TENANT, WORKSPACE, event.subject or ""))
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, settings) as (_, state):
        conn = await asyncpg.connect(dsn)
        try:
            await state.bus.publish([record])

            async def attributed_once() -> bool:
                return len(await attributed_copies(conn)) == 1

            await until(attributed_once)
            # Two days pass: the inbox row falls out of the retention and is pruned.
            await conn.execute("UPDATE identity.inbox SET processed_at = now() - interval '2 days'")

            async def inbox_empty() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM identity.inbox") == 0)

            await until(inbox_empty)
            before = await identity_state(conn)
            assert before["developers"] and before["aliases"]

            await state.bus.publish([record])  # the same event, the same id

            async def attributed_twice() -> bool:
                return len(await attributed_copies(conn)) == 2

            await until(attributed_twice)
            # Not refused by the inbox (its row is back): the handler ran again.
            assert await conn.fetchval("SELECT count(*) FROM identity.inbox") == 1
            assert await identity_state(conn) == before
            first, second = await attributed_copies(conn)
            assert second.id == first.id  # downstream inboxes and fact ids refuse it
            assert second.data == first.data  # the same developers
        finally:
            await conn.close()

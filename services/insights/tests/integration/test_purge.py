"""The archive's purge requests through the real consumer: the projections of the
requested class go, the rows of other classes and the daily rollups (DeveloperMetrics)
stay, a workspace hold keeps its rows, and PurgeDone answers with the counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.runtime.outbox import record_for

from .test_developer_days import published
from .test_dora_api import history
from .test_read_api import TENANT, WORKSPACE, Running, inbox_count, running, settled

__all__ = ["history", "running"]  # the fixtures, imported to be reused

EVERYTHING = datetime(2030, 1, 1, tzinfo=UTC)  # after every event of the scenario


async def count(conn: asyncpg.Connection, table: str) -> int:
    found: int = await conn.fetchval(
        f"SELECT count(*) FROM insights.{table} WHERE tenant_id = $1",
        TENANT,
    )
    return found


async def rollups(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT * FROM insights.developer_days WHERE tenant_id = $1 ORDER BY developer_id, day",
        TENANT,
    )
    return [tuple(r) for r in rows]


async def request(running: Running, data_class: str, holds: list[PurgeHold]) -> dict[str, Any]:
    """Publish the archive's request; the insights answer's data once it is staged."""
    asked = Envelope.wrap(
        PurgeRequested(
            manifest_id=uuid7(), data_class=data_class, older_than=EVERYTHING, holds=holds
        ),
        source="/sextant/archive",
        tenantid=TENANT,
        subject="manifest:x",
    )
    before = await inbox_count(running.conn)
    key = entity_key(TENANT, None, asked.subject or "")
    await running.state.bus.publish([record_for(asked, LIFECYCLE.name, key)])
    await settled(running.conn, before, 1)

    answers = [
        e.data
        for e in await published(running.conn, LIFECYCLE.name, TENANT)
        if e.data.get("request_id") == str(asked.id)
    ]
    assert len(answers) == 1, answers
    return answers[0]


async def test_a_purge_takes_its_class_of_projections_and_leaves_the_rollups(
    history: Running,
) -> None:
    conn = history.conn
    days_before = await rollups(conn)
    assert days_before, "the scenario computes developer days"
    changes = [await count(conn, t) for t in ("change_requests", "reviews", "commits", "pushes")]
    deployments = await count(conn, "deployments")
    assert all(changes) and deployments

    held = await request(
        history, "deployments", [PurgeHold(scope_kind="workspace", scope_id=WORKSPACE)]
    )
    assert held["rows_deleted"] == 0 and await count(conn, "deployments") == deployments

    done = await request(history, "change_requests", [])
    assert done["service"] == "insights" and done["data_class"] == "change_requests"
    assert done["rows_deleted"] == sum(changes)
    for table in ("change_requests", "reviews", "commits", "pushes"):
        assert await count(conn, table) == 0, table
    assert await count(conn, "deployments") == deployments
    assert await rollups(conn) == days_before

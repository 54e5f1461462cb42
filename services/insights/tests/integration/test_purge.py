"""The archive's purge requests through the real consumer: the projections of the
requested class go, the rows of other classes and the daily rollups (DeveloperMetrics)
stay, a workspace hold keeps its rows, and PurgeDone answers with the counts; the
restore's replays bring the purged projection back to equal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.runtime.outbox import record_for

from .scenario import Tenant
from .test_developer_days import published
from .test_read_api import TENANT, WORKSPACE, Running, inbox_count, running, settled

__all__ = ["running"]  # the fixture, imported to be reused

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


CHANGES = ("change_requests", "reviews", "commits", "pushes")


async def rows_of(conn: asyncpg.Connection, table: str) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        f"SELECT * FROM insights.{table} WHERE tenant_id = $1",
        TENANT,
    )
    return sorted((tuple(r) for r in rows), key=repr)


async def test_a_purge_takes_its_class_of_projections_and_a_replay_brings_them_back(
    running: Running,
) -> None:
    conn = running.conn
    days_before = await rollups(conn)
    assert days_before, "the scenario computes developer days"
    before = {t: await rows_of(conn, t) for t in CHANGES}
    deployments = await count(conn, "deployments")
    assert before["change_requests"] and before["reviews"] and deployments

    held = await request(
        running, "deployments", [PurgeHold(scope_kind="workspace", scope_id=WORKSPACE)]
    )
    assert held["rows_deleted"] == 0 and await count(conn, "deployments") == deployments

    done = await request(running, "change_requests", [])
    assert done["service"] == "insights" and done["data_class"] == "change_requests"
    assert done["rows_deleted"] == sum(len(rows) for rows in before.values())
    for table in CHANGES:
        assert await count(conn, table) == 0, table
    assert await count(conn, "deployments") == deployments
    assert await rollups(conn) == days_before

    # The archive's restore publishes the same events again, marked as replays: the
    # inbox, which still holds their ids, lets them through once, and the projection is
    # what it was.
    restore = uuid7()
    replays = [e.model_copy(update={"replayid": restore}) for e in running.first]
    scenario = Tenant(TENANT, WORKSPACE)
    handled = await inbox_count(conn)
    await running.state.bus.publish([scenario.record(e) for e in replays * 2])
    await settled(conn, handled, len(replays))
    await published(conn, LIFECYCLE.name, TENANT)  # everything it staged is out
    assert {t: await rows_of(conn, t) for t in CHANGES} == before
    assert await inbox_count(conn) == handled + len(replays)  # the copy: not again

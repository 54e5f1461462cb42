"""The archive's purge requests through the real consumer: the projections of the
requested class go, the rows of other classes and the daily rollups (DeveloperMetrics)
stay, a workspace hold keeps its rows, and PurgeDone answers with the counts; the
restore's replays bring the purged projection back to equal. DORA for the purged week is
what it was, after the restore too (counted once), until the workspace itself is purged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.runtime.outbox import record_for

from .scenario import Tenant
from .test_developer_days import published
from .test_dora_api import dora, history
from .test_read_api import (
    TENANT,
    WORKSPACE,
    Running,
    inbox_count,
    running,
    settled,
    until_true,
)

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


async def request(
    running: Running, data_class: str | None, holds: list[PurgeHold], **scope: Any
) -> dict[str, Any]:
    """Publish the archive's request; the insights answer's data once it is staged."""
    asked = Envelope.wrap(
        PurgeRequested(
            manifest_id=uuid7(),
            data_class=data_class,
            older_than=EVERYTHING,
            holds=holds,
            **scope,
        ),
        source="/sextant/archive",
        tenantid=TENANT,
        subject="manifest:x",
    )
    key = entity_key(TENANT, None, asked.subject or "")
    await running.state.bus.publish([record_for(asked, LIFECYCLE.name, key)])
    # By its id, not by the inbox's count: the service consumes its own PurgeDone answers
    # on the same topic, so an earlier request's answer could be counted as this one.
    await until_true(lambda: taken(running.conn, asked.id))
    await settled(running.conn, 0, 0)

    answers = [
        e
        for e in await published(running.conn, LIFECYCLE.name, TENANT)
        if e.data.get("request_id") == str(asked.id)
    ]
    assert len(answers) == 1, answers
    # and the answer consumed in turn, so no later count of the inbox meets it
    await until_true(lambda: taken(running.conn, answers[0].id))
    return answers[0].data


async def taken(conn: asyncpg.Connection, event: UUID) -> bool:
    """Whether the service's consumer has taken the event into its inbox."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM insights.inbox WHERE event_id = $1)", event
    )
    return found


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


KEPT = ("kept_deployments", "kept_changes", "kept_incidents")


def keys(body: dict[str, Any]) -> tuple[Any, ...]:
    """The DORA keys of a reply (test_dora_api.py works them out for the scenario's week)."""
    frequency, lead = body["deployment_frequency"], body["lead_time"]
    failures, restore = body["change_failure_rate"], body["time_to_restore"]
    return (
        frequency["deployments"],
        frequency["deployment_days"],
        lead["count"],
        round(lead["median_hours"], 6),
        round(lead["p85_hours"], 6),
        (failures["numerator"], failures["denominator"]),
        (restore["count"], restore["median_hours"]),
        (body["rework_rate"]["numerator"], body["rework_rate"]["denominator"]),
        (body["incidents"], body["incidents_attributed"]),
    )


# test_dora_api.py: D1, D2, D3 on one day; lead times 3 h and 5 h 2 min; the incident
# attributed to D2, restored 1.5 h after it; nothing deployed while it was open.
WORKED = (3, 1, 2, 4.016667, 4.728333, (1, 3), (1, 1.5), (0, 3), (1, 1))
WITH_BOTS = 3  # the bot's #2 too


async def test_dora_of_a_purged_week_is_kept_counted_once_after_a_restore_until_its_scope_goes(
    history: Running,
) -> None:
    conn = history.conn
    assert keys(await dora(history)) == WORKED
    for data_class in ("deployments", "change_requests"):
        await request(history, data_class, [])
    for table in ("deployments", "change_requests", "incidents"):
        assert await count(conn, table) == 0, table
    # D1-D3 (not staging), the three changes shipped and counted (#1, the bot's #2, #3; #0
    # was inherited by D1, not counted), the incident
    assert [await count(conn, t) for t in KEPT] == [3, 3, 1]
    assert keys(await dora(history)) == WORKED
    assert (await dora(history, include_bots="true"))["lead_time"]["count"] == WITH_BOTS

    # the archive's restore: the same events again, replays, projected anew; the kept
    # copies stay, and the live rows are the ones counted
    restore = uuid7()
    replays = [
        e.model_copy(update={"replayid": restore}) for e in [*history.first, *history.second]
    ]
    handled = await inbox_count(conn)
    await history.state.bus.publish([Tenant(TENANT, WORKSPACE).record(e) for e in replays])
    await settled(conn, handled, len(replays))
    live_and_kept = [await count(conn, t) for t in ("deployments", *KEPT)]
    assert live_and_kept == [4, 3, 3, 1]  # D1-D3 and staging live again
    assert keys(await dora(history)) == WORKED
    assert (await dora(history, include_bots="true"))["lead_time"]["count"] == WITH_BOTS

    # the workspace deleted and past its grace: its kept facts go with its projections
    await request(history, None, [], scope="workspace", workspace_id=WORKSPACE)
    assert [await count(conn, t) for t in ("deployments", *KEPT)] == [0, 0, 0, 0]
    gone = await dora(history)
    assert (gone["deployment_frequency"]["deployments"], gone["lead_time"]["count"]) == (0, 0)
    assert gone["incidents"] == 0

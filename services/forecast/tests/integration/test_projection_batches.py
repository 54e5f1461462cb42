"""A batch of attributed activity is projected as its events one at a time would be, in a
number of statements that does not grow with the batch; a poison record in a batch is
dead-lettered alone, the rest of the batch projected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest
import sqlalchemy as sa

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import (
    WorkItem,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import SourceRef
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.forecast.handlers import on_attributed_activity
from sextant.forecast.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.consumer import DLQ_SUFFIX
from sextant.runtime.db import driver_connection, plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T1, T2, T3 = T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)
CREATED = "sextant.activity.work_item.created.v1"
TRANSITIONED = "sextant.activity.work_item.transitioned.v1"
RESOLVED = "sextant.activity.work_item.resolved.v1"
DELETED = "sextant.activity.work_item.deleted.v1"


def item(key: str, status: str, category: str, title: str = "Story") -> WorkItem:
    return WorkItem(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id=key),
        key=key,
        title=title,
        item_type="story",
        status=status,
        status_category=category,
        created_at=T0,
    )


def attributed(
    type_name: str, event: object, *, fact_id: UUID | None = None, key: str = ""
) -> Envelope:
    original = event.model_dump(mode="json") if hasattr(event, "model_dump") else event
    data = ActivityAttributed(
        original_id=fact_id or uuid7(), original_type=type_name, original=original
    )
    return Envelope.wrap(
        data, source="/sextant/identity", tenantid=TENANT, workspaceid=WORKSPACE, subject=key
    )


def created(key: str, at: datetime = T0) -> Envelope:
    event = WorkItemCreated(work_item=item(key, "To Do", "todo"), occurred_at=at)
    return attributed(CREATED, event, key=key)


def moved(
    key: str, source: str, target: str, category: str, at: datetime, **kw: object
) -> Envelope:
    title = str(kw.pop("title", "Story"))
    event = WorkItemTransitioned(
        work_item=item(key, target, category, title),
        from_status=source,
        to_status=target,
        from_category="todo" if source == "To Do" else "in_progress",
        to_category=category,
        occurred_at=at,
    )
    return attributed(TRANSITIONED, event, key=key, **kw)  # type: ignore[arg-type]


def resolved(key: str, at: datetime) -> Envelope:
    event = WorkItemResolved(work_item=item(key, "Done", "done"), occurred_at=at)
    return attributed(RESOLVED, event, key=key)


def deleted(key: str, at: datetime) -> Envelope:
    source = SourceRef(kind="jira", source_id=SOURCE, external_id=key)
    event = WorkItemDeleted(source=source, key=key, occurred_at=at)
    return attributed(DELETED, event, key=key)


@pytest.fixture
async def forecast(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[ServiceState, asyncpg.Connection]]:
    settings = service_settings(database_url, internal_keys)
    async with running_service(SPEC, settings) as (_, state):
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            yield state, conn
        finally:
            await conn.close()


async def handle_batch(state: ServiceState, envelopes: list[Envelope]) -> list[str]:
    """The handler on ``envelopes`` in one transaction; the statements it sent to forecast's
    tables: through SQLAlchemy, and on the driver connection directly (the driver's query
    log leaves out SQLAlchemy's prepared statements, and its own type lookups on a new
    connection are not the handler's)."""
    sent: list[str] = []

    def through_sqlalchemy(*args: object) -> None:
        sent.append(str(args[2]))

    def on_the_driver(record: asyncpg.connection.LoggedQuery) -> None:
        sent.append(record.query)

    engine = state.db.engine.sync_engine
    async with state.db.transaction(TENANT) as session:
        driver = await driver_connection(session)
        sa.event.listen(engine, "before_cursor_execute", through_sqlalchemy)
        driver.add_query_logger(on_the_driver)
        try:
            await on_attributed_activity(session, envelopes)
        finally:
            driver.remove_query_logger(on_the_driver)
            sa.event.remove(engine, "before_cursor_execute", through_sqlalchemy)
    return [statement for statement in sent if "forecast." in statement]


async def history(conn: asyncpg.Connection, key: str) -> list[tuple[object, ...]]:
    rows = await conn.fetch(
        "SELECT from_status, to_status, to_category, at FROM forecast.work_item_transitions"
        " WHERE key = $1 ORDER BY id",
        key,
    )
    return [tuple(r) for r in rows]


async def state_of(conn: asyncpg.Connection, key: str) -> tuple[object, ...]:
    row = await conn.fetchrow(
        "SELECT title, status, status_category, state_since, started_at, done_at, deleted_at,"
        " stale_dismissed_at FROM forecast.work_items WHERE key = $1",
        key,
    )
    assert row is not None, key
    return tuple(row)


async def test_a_batch_applies_each_items_events_in_order(
    forecast: tuple[ServiceState, asyncpg.Connection],
) -> None:
    state, conn = forecast
    # Already projected before the batch: C in progress since T1, its stale flag dismissed.
    earlier_move = moved("C-1", "To Do", "In Progress", "in_progress", T1)
    await handle_batch(state, [created("C-1"), earlier_move])
    await conn.execute("UPDATE forecast.work_items SET stale_dismissed_at = $1", T2)
    fact = ActivityAttributed.model_validate(earlier_move.data).original_id

    await handle_batch(
        state,
        [
            created("A-1"),
            created("B-1"),
            moved("A-1", "To Do", "In Progress", "in_progress", T1),
            resolved("A-1", T2),
            moved("B-1", "To Do", "In Progress", "in_progress", T2),
            # A late event for B (older than its state): history, not state.
            moved("B-1", "To Do", "Blocked", "in_progress", T1, title="Renamed"),
            # C's move redelivered after the inbox forgot it, under a revised title: the
            # history has its fact id, so it changes nothing (it would undo the dismissal).
            moved("C-1", "To Do", "In Progress", "in_progress", T1, fact_id=fact, title="Old"),
            # Deleted, then recreated: the later creation brings it back.
            deleted("D-1", T1),  # D does not exist yet: nothing to mark
            created("D-1", T2),
            deleted("D-1", T3),
        ],
    )

    assert await history(conn, "A-1") == [
        (None, "To Do", "todo", T0),
        ("To Do", "In Progress", "in_progress", T1),
        (None, "Done", "done", T2),
    ]
    assert await state_of(conn, "A-1") == ("Story", "Done", "done", T2, T1, T2, None, None)
    assert await history(conn, "B-1") == [
        (None, "To Do", "todo", T0),
        ("To Do", "In Progress", "in_progress", T2),
        ("To Do", "Blocked", "in_progress", T1),
    ]
    # The late event's snapshot still refreshes the title, as one at a time it would.
    assert await state_of(conn, "B-1") == (
        "Renamed",
        "In Progress",
        "in_progress",
        T2,
        T2,
        None,
        None,
        None,
    )
    assert await history(conn, "C-1") == [
        (None, "To Do", "todo", T0),
        ("To Do", "In Progress", "in_progress", T1),
    ]
    assert await state_of(conn, "C-1") == (
        "Story",
        "In Progress",
        "in_progress",
        T1,
        T1,
        None,
        None,
        T2,
    )
    assert await history(conn, "D-1") == [(None, "To Do", "todo", T2)]
    assert await state_of(conn, "D-1") == ("Story", "To Do", "todo", T2, None, None, T3, None)


async def test_a_fact_twice_in_one_batch_is_applied_once(
    forecast: tuple[ServiceState, asyncpg.Connection],
) -> None:
    state, conn = forecast
    first = moved("A-1", "To Do", "In Progress", "in_progress", T1)
    fact = ActivityAttributed.model_validate(first.data).original_id
    await handle_batch(
        state,
        [
            created("A-1"),
            first,
            moved("A-1", "In Progress", "Review", "in_progress", T2, title="Later"),
            # The first move again (another envelope of the same fact): applied again, its
            # snapshot would bring the old title back.
            moved("A-1", "To Do", "In Progress", "in_progress", T1, fact_id=fact),
        ],
    )
    assert await history(conn, "A-1") == [
        (None, "To Do", "todo", T0),
        ("To Do", "In Progress", "in_progress", T1),
        ("In Progress", "Review", "in_progress", T2),
    ]
    assert (await state_of(conn, "A-1"))[:4] == ("Later", "Review", "in_progress", T2)


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    forecast: tuple[ServiceState, asyncpg.Connection],
) -> None:
    state, conn = forecast

    def backlog(first: int, count: int) -> list[Envelope]:
        out: list[Envelope] = []
        for n in range(first, first + count):
            out += [created(f"S-{n}"), moved(f"S-{n}", "To Do", "In Progress", "in_progress", T1)]
        return out

    small = await handle_batch(state, backlog(0, 5))
    large = await handle_batch(state, backlog(100, 50))
    # One at a time, each event cost four statements (100 events: 400).
    assert 3 <= len(large) == len(small) <= 6, large
    assert await conn.fetchval("SELECT count(*) FROM forecast.work_items") == 55
    assert await conn.fetchval("SELECT count(*) FROM forecast.work_item_transitions") == 110


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(30):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone(
    forecast: tuple[ServiceState, asyncpg.Connection],
) -> None:
    state, conn = forecast
    poison = attributed(CREATED, {"work_item": "not one"}, key="P-1")
    twice = moved("A-1", "To Do", "In Progress", "in_progress", T1)
    batch = [
        created("A-1"),
        created("B-1"),
        poison,
        twice,
        twice,  # the same envelope again: the inbox lets it through once
        resolved("A-1", T2),
        moved("B-1", "To Do", "In Progress", "in_progress", T2),
    ]
    # One partition key for all: one poll, one partition, one run of one tenant.
    key = entity_key(TENANT, WORKSPACE, "A-1")
    await state.bus.publish([record_for(e, ACTIVITY_ATTRIBUTED.name, key) for e in batch])

    async def projected() -> bool:
        return bool(await conn.fetchval("SELECT count(*) FROM forecast.work_item_transitions") == 5)

    await until(projected, "the batch projected")
    assert await history(conn, "A-1") == [
        (None, "To Do", "todo", T0),
        ("To Do", "In Progress", "in_progress", T1),
        (None, "Done", "done", T2),
    ]
    assert (await state_of(conn, "B-1"))[1:5] == ("In Progress", "in_progress", T2, T2)

    reader = state.bus.consumer("dlq-reader", [ACTIVITY_ATTRIBUTED.name + DLQ_SUFFIX])
    await reader.start()
    dead: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not dead:
                for records in (await reader.poll(100, timeout=0.5)).values():
                    dead += [dict(r.headers)["ce_id"].decode() for r in records]
    finally:
        await reader.stop()
    assert dead == [str(poison.id)]

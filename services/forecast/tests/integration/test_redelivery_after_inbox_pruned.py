"""An event redelivered after forecast's inbox forgot it changes nothing: the projection is
keyed by the event's fact id (``ActivityAttributed.original_id``), so a copy of a change
already applied is refused by that, as the inbox would have refused it earlier."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import WorkItem, WorkItemCreated, WorkItemTransitioned
from sextant.contracts.events.common import SourceRef
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.forecast.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
KEY = "PROJ-1"
CREATED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STARTED_AT = CREATED_AT + timedelta(days=1)


def item(status: str, category: str) -> WorkItem:
    return WorkItem(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id=KEY),
        key=KEY,
        title="Story",
        item_type="story",
        status=status,
        status_category=category,
        created_at=CREATED_AT,
    )


def attributed(event: WorkItemCreated | WorkItemTransitioned, type_name: str) -> Envelope:
    data = ActivityAttributed(
        original_id=uuid7(), original_type=type_name, original=event.model_dump(mode="json")
    )
    return Envelope.wrap(
        data, source="/sextant/identity", tenantid=TENANT, workspaceid=WORKSPACE, subject=KEY
    )


async def publish(state: ServiceState, envelopes: list[Envelope]) -> None:
    key = entity_key(TENANT, WORKSPACE, KEY)
    await state.bus.publish([record_for(e, ACTIVITY_ATTRIBUTED.name, key) for e in envelopes])


async def until(what: str, check: object) -> None:
    assert callable(check)
    async with asyncio.timeout(30):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_transition_redelivered_after_its_inbox_row_was_pruned_changes_nothing(
    database_url: str, internal_keys: InternalKeys
) -> None:
    settings = service_settings(
        database_url,
        internal_keys,
        inbox_retention_days=1,
        inbox_prune_every_seconds=0.1,
    )
    events = [
        attributed(
            WorkItemCreated(work_item=item("To Do", "todo"), occurred_at=CREATED_AT),
            "sextant.activity.work_item.created.v1",
        ),
        attributed(
            WorkItemTransitioned(
                work_item=item("In Progress", "in_progress"),
                from_status="To Do",
                to_status="In Progress",
                from_category="todo",
                to_category="in_progress",
                occurred_at=STARTED_AT,
            ),
            "sextant.activity.work_item.transitioned.v1",
        ),
    ]
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, settings) as (_, state):
        conn = await asyncpg.connect(dsn)
        try:
            await publish(state, events)

            async def projected() -> bool:
                return bool(
                    await conn.fetchval("SELECT count(*) FROM forecast.work_item_transitions") == 2
                )

            await until("projected", projected)
            # A manager dismissed the item's stale flag after the transition.
            await conn.execute("UPDATE forecast.work_items SET stale_dismissed_at = $1", STARTED_AT)

            # Two days pass: the inbox rows fall out of the retention and the pruner drops them.
            await conn.execute("UPDATE forecast.inbox SET processed_at = now() - interval '2 days'")

            async def inbox_empty() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM forecast.inbox") == 0)

            await until("the inbox pruned", inbox_empty)
            items_before = [tuple(r) for r in await conn.fetch("SELECT * FROM forecast.work_items")]
            history_before = [
                tuple(r)
                for r in await conn.fetch(
                    "SELECT * FROM forecast.work_item_transitions ORDER BY id"
                )
            ]
            assert state.processor is not None
            handled = state.processor.handled

            await publish(state, events)  # the same two events, the same ids

            async def handled_again() -> bool:
                assert state.processor is not None
                return state.processor.handled >= handled + 2

            await until("handled again", handled_again)
            # Not refused by the inbox: its rows are back, so the handler ran.
            assert await conn.fetchval("SELECT count(*) FROM forecast.inbox") == 2
            assert [
                tuple(r) for r in await conn.fetch("SELECT * FROM forecast.work_items")
            ] == items_before
            assert [
                tuple(r)
                for r in await conn.fetch(
                    "SELECT * FROM forecast.work_item_transitions ORDER BY id"
                )
            ] == history_before
            assert await conn.fetchval("SELECT stale_dismissed_at FROM forecast.work_items") == (
                STARTED_AT
            )
        finally:
            await conn.close()

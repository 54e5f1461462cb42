"""Work items' assignees follow identity: a merge hands the merged developer's items to
the survivor (an event attributed before the merge but handled after it too), a split or
a moved alias hands the items assigned through its aliases to their new developer.
Every event goes through the real bus, as identity publishes it."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from sextant.contracts import Envelope, EventModel, uuid7
from sextant.contracts.events.activity import WorkItemCreated, WorkItemTransitioned
from sextant.contracts.events.common import Actor
from sextant.contracts.events.platform import (
    ActivityAttributed,
    AliasMoved,
    Attribution,
    DevelopersMerged,
    DeveloperSplit,
)
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, IDENTITY, entity_key
from sextant.forecast.main import SPEC
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .test_read_api import TENANT, W1, day, work_item

ADA, BOB, CARL, DAN = uuid7(), uuid7(), uuid7(), uuid7()
ADA_JIRA, ADA_GITHUB = uuid7(), uuid7()  # two of Ada's aliases


def assigned(event: EventModel, type_name: str, developer: UUID, alias: UUID) -> Envelope:
    actor = Actor(kind="jira", account_id="ada-1", display_name="Ada")
    data = ActivityAttributed(
        original_id=uuid7(),
        original_type=type_name,
        original=event.model_dump(mode="json"),
        attributions=[
            Attribution(
                path="work_item.assignee", actor=actor, developer_id=developer, alias_id=alias
            )
        ],
    )
    return Envelope.wrap(
        data, source="/sextant/identity", tenantid=TENANT, workspaceid=W1, subject="A-1"
    )


async def test_assignees_follow_merges_splits_and_moved_aliases(
    database_url: str, internal_keys: InternalKeys
) -> None:
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (_, state):

        async def publish(topic: str, *envelopes: Envelope) -> None:
            records = [
                record_for(e, topic, entity_key(e.tenantid, e.workspaceid or e.tenantid, "A-1"))
                for e in envelopes
            ]
            await state.bus.publish(records)

        async def assignee_becomes(expected: UUID) -> None:
            conn = await asyncpg.connect(dsn)
            try:
                for _ in range(200):
                    now = await conn.fetchval(
                        "SELECT assignee_developer_id FROM forecast.work_items WHERE key = 'A-1'"
                    )
                    if now == expected:
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError(f"A-1's assignee is {now}, expected {expected}")
            finally:
                await conn.close()

        item = work_item(W1, "A-1", "story", "todo", day(10, 1))
        created = WorkItemCreated(work_item=item, occurred_at=day(10, 1))
        await publish(
            ACTIVITY_ATTRIBUTED.name,
            assigned(created, "sextant.activity.work_item.created.v1", ADA, ADA_JIRA),
        )
        await assignee_becomes(ADA)

        def identity(event: EventModel) -> Envelope:
            return Envelope.wrap(
                event, source="/sextant/identity", tenantid=TENANT, subject="developers"
            )

        merged = DevelopersMerged(survivor_id=BOB, merged_ids=[ADA], rule="manual")
        await publish(IDENTITY.name, identity(merged))
        await assignee_becomes(BOB)

        # Attributed to Ada before the merge, handled after it: written under Bob.
        started = WorkItemTransitioned(
            work_item=item.model_copy(update={"status": "In Progress"}),
            from_status="To Do",
            from_category="todo",
            to_status="In Progress",
            to_category="in_progress",
            occurred_at=day(10, 2),
        )
        await publish(
            ACTIVITY_ATTRIBUTED.name,
            assigned(started, "sextant.activity.work_item.transitioned.v1", ADA, ADA_JIRA),
        )
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(200):
                moved = await conn.fetchval(
                    "SELECT count(*) FROM forecast.work_item_transitions WHERE key = 'A-1'"
                )
                if moved == 2:
                    break
                await asyncio.sleep(0.05)
            assert (
                await conn.fetchval(
                    "SELECT assignee_developer_id FROM forecast.work_items WHERE key = 'A-1'"
                )
                == BOB
            )
        finally:
            await conn.close()

        # Ada's Jira alias split off to Carl: the item goes with it; her other alias
        # would not take it.
        split = DeveloperSplit(from_developer_id=BOB, new_developer_id=CARL, alias_ids=[ADA_JIRA])
        await publish(IDENTITY.name, identity(split))
        await assignee_becomes(CARL)
        other_split = DeveloperSplit(
            from_developer_id=CARL, new_developer_id=BOB, alias_ids=[ADA_GITHUB]
        )
        moved_alias = AliasMoved(alias_id=ADA_JIRA, from_developer_id=CARL, to_developer_id=DAN)
        await publish(IDENTITY.name, identity(other_split), identity(moved_alias))
        await assignee_becomes(DAN)

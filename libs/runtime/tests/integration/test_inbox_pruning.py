"""The inbox forgets event ids past the retention of the topics it consumes, a few rows
and a few blocks at a time, and only its own group's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import claim_inbox, inbox_retention, prune_inbox
from sextant.runtime.testing import busworker

GROUP = "pruned-group"
OTHER = "other-group"


async def test_prune_walks_the_heap_in_ranges_and_keeps_fresh_rows_and_other_groups(
    database_url: str,
) -> None:
    await busworker.prepare(database_url)
    conn = await asyncpg.connect(plain_dsn(database_url))
    db = busworker.database(database_url)
    await db.start()
    try:
        # 3,000 rows of this group spread over many blocks: every third one is 8 days
        # old, interleaved with fresh ones; the other group has old rows too.
        await conn.execute(
            "INSERT INTO conformance.inbox (consumer_group, event_id, processed_at)"
            " SELECT $1, gen_random_uuid(),"
            " CASE WHEN n % 3 = 0 THEN now() - interval '8 days' ELSE now() END"
            " FROM generate_series(1, 3000) AS n",
            GROUP,
        )
        await conn.execute(
            "INSERT INTO conformance.inbox (consumer_group, event_id, processed_at)"
            " SELECT $1, gen_random_uuid(), now() - interval '8 days'"
            " FROM generate_series(1, 50)",
            OTHER,
        )
        blocks = await conn.fetchval(
            "SELECT pg_relation_size('conformance.inbox') / current_setting('block_size')::int"
        )
        assert blocks > 6  # so two-block ranges make several of them

        removed = await prune_inbox(
            db,
            busworker.spine.inbox,
            GROUP,
            timedelta(days=7),
            batch_size=40,
            blocks_per_range=2,
        )

        assert removed == 1000
        counts = dict(
            await conn.fetch("SELECT consumer_group, count(*) FROM conformance.inbox GROUP BY 1")
        )
        assert counts == {GROUP: 2000, OTHER: 50}
        assert not await conn.fetchval(
            "SELECT count(*) FROM conformance.inbox"
            " WHERE consumer_group = $1 AND processed_at < now() - interval '7 days'",
            GROUP,
        )
    finally:
        await conn.close()
        await db.stop()


async def test_a_pruned_id_can_be_claimed_again(database_url: str) -> None:
    """What pruning gives up: the inbox no longer refuses that event (its handler must)."""
    await busworker.prepare(database_url)
    db = busworker.database(database_url)
    await db.start()
    event_id = uuid.uuid5(busworker.TENANT, "pruned-once")
    try:
        async with db.transaction() as session:
            assert await claim_inbox(session, busworker.spine.inbox, GROUP, event_id)
        async with db.transaction() as session:
            assert not await claim_inbox(session, busworker.spine.inbox, GROUP, event_id)
        conn = await asyncpg.connect(plain_dsn(database_url))
        await conn.execute("UPDATE conformance.inbox SET processed_at = now() - interval '31 days'")
        await conn.close()

        assert await prune_inbox(db, busworker.spine.inbox, GROUP, timedelta(days=30)) == 1

        async with db.transaction() as session:
            assert await claim_inbox(session, busworker.spine.inbox, GROUP, event_id)
    finally:
        await db.stop()


def test_retention_is_the_longest_of_the_consumed_topics_capped_by_the_bus() -> None:
    topics = ["sextant.activity.attributed", "sextant.identity"]  # 30 and 365 days
    assert inbox_retention(topics, override_days=None, bus_retention_days=None) == timedelta(
        days=365
    )
    assert inbox_retention(topics, override_days=None, bus_retention_days=7) == timedelta(days=7)
    assert inbox_retention(
        ["sextant.activity.attributed"], override_days=None, bus_retention_days=90
    ) == timedelta(days=30)
    assert inbox_retention(
        ["not.a.contract.topic"], override_days=None, bus_retention_days=None
    ) == (timedelta(days=7))
    assert inbox_retention(topics, override_days=2.5, bus_retention_days=7) == timedelta(days=2.5)

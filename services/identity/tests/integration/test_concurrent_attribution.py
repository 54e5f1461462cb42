"""Two partitions attributing one person at the same time still make one developer: new
aliases sharing a key are placed one transaction after the other (key locks), and an
alias joining a developer holds it against a concurrent merge."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from sextant.contracts import Envelope
from sextant.contracts.events.common import Actor
from sextant.identity import attribution
from sextant.identity.db.repository import total_shard
from sextant.identity.handlers import OUTBOX

from .conftest import Identity, person, push


async def attribute_held(identity: Identity, actor: Actor, release: asyncio.Event) -> UUID:
    """Attribute ``actor`` in a transaction that stays open until ``release``."""
    async with identity.state.db.transaction(identity.tenant) as session:
        attributed = await attribution.attribute(session, OUTBOX, push(identity.tenant, actor))
        await release.wait()
    return attributed.attributions[0].developer_id


async def test_two_new_aliases_of_one_person_at_once_make_one_developer(
    identity: Identity,
) -> None:
    for first, second in (
        # the same address from two tools: an identifier
        (
            person("Grace Hopper", "grace@navy.example.org"),
            person("G. Hopper", "grace@navy.example.org", kind="jira"),
        ),
        # the same rare name at two addresses: a name link
        (
            person("Zebulon Quarrington", "zq@one.example.org"),
            person("Zebulon Quarrington", "zq@two.example.org"),
        ),
    ):
        release = asyncio.Event()
        one = asyncio.create_task(attribute_held(identity, first, release))
        await asyncio.sleep(0.2)  # the first transaction has placed its alias, uncommitted
        opened = asyncio.Event()
        opened.set()
        two = asyncio.create_task(attribute_held(identity, second, opened))
        await asyncio.sleep(0.3)
        assert not two.done()  # waits for the first: they share a key
        release.set()
        await one
        assert await asyncio.wait_for(two, 5) == await one


async def test_aliases_sharing_no_key_are_placed_side_by_side(identity: Identity) -> None:
    # Names, tokens, domains and total shards all differ: nothing for them to wait on.
    assert total_shard("name:ada lovelace") != total_shard("name:alan turing")
    release = asyncio.Event()
    one = asyncio.create_task(
        attribute_held(identity, person("Ada Lovelace", "ada@analytical.test"), release)
    )
    await asyncio.sleep(0.2)
    other = Actor(kind="generic", email="alan@bletchley.test", display_name="Alan Turing")
    done = asyncio.Event()
    done.set()
    two = await asyncio.wait_for(attribute_held(identity, other, done), 5)  # no wait
    release.set()
    assert await one != two


async def test_a_merge_while_an_alias_joins_the_merged_developer_takes_the_alias_along(
    identity: Identity,
) -> None:
    [grace] = await identity.attribute(person("Grace Hopper", "grace@navy.example.org"))
    [other] = await identity.attribute(person("Amazing Grace", "amazing@cobol.example.org"))
    release = asyncio.Event()
    joining = asyncio.create_task(
        attribute_held(
            identity, person("Grace Hopper", "grace@navy.example.org", kind="jira"), release
        )
    )
    await asyncio.sleep(0.2)  # the alias has joined Grace, uncommitted, holding her row
    merge = asyncio.create_task(
        identity.client.post(
            "/v1/developers/merge",
            json={"survivor_id": str(other), "merged_ids": [str(grace)]},
            headers=identity.admin,
        )
    )
    await asyncio.sleep(0.3)
    assert not merge.done()  # waits for the joining transaction
    release.set()
    assert await joining == grace
    merged = await asyncio.wait_for(merge, 5)
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["aliases"]) == 3  # the joined alias moved along


async def test_two_batches_of_one_tenant_sharing_keys_in_opposite_orders_never_deadlock(
    identity: Identity,
) -> None:
    """Two partitions' batches of one tenant, each event's aliases sharing a key with the
    other batch's in the opposite order. A third transaction holds the middle key until both
    batches wait: a batch locking each event's keys (and counting its names) only when its
    turn comes then holds its first event's locks while it waits for its last one's, which
    the other batch holds — the crossing PostgreSQL breaks after ``deadlock_timeout`` by
    failing one of them."""
    tenant = identity.tenant
    ada, alan = person("Ada Crossley", "ada@cross.test"), person("Alan Crossley", "alan@cross.test")
    grace = person("Grace Crossley", "grace@cross.test")
    # The same addresses seen by another tool: each shares its email key with its twin.
    ada2, alan2, grace2 = (
        person(a.display_name or "", a.email or "", kind="jira") for a in (ada, alan, grace)
    )
    one = [push(tenant, ada), push(tenant, grace), push(tenant, alan)]
    two = [push(tenant, alan2), push(tenant, grace2), push(tenant, ada2)]

    async def batch(envelopes: list[Envelope]) -> list[UUID]:
        async with identity.state.db.transaction(tenant) as session:
            attributed = await attribution.attribute_many(session, OUTBOX, envelopes)
        return [a.attributions[0].developer_id for a in attributed]

    conn, holder = await asyncpg.connect(identity.dsn), await asyncpg.connect(identity.dsn)
    try:
        deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        before = await conn.fetchval(deadlocks)
        blocker = holder.transaction()
        await blocker.start()
        await holder.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"identity:{tenant}|email:grace@cross.test",
        )
        tasks = [asyncio.create_task(batch(one)), asyncio.create_task(batch(two))]
        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        for _ in range(100):  # both batches stopped at a lock
            if await conn.fetchval(waiting) >= 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the batches did not both wait for a lock")
        await blocker.commit()
        first, second = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await asyncio.sleep(0.1)
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        assert await conn.fetchval(deadlocks) == before
    finally:
        await conn.close()
        await holder.close()
    # Each twin joined the same developer, whichever batch went first.
    assert first == list(reversed(second))

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


async def batches_released_together(
    identity: Identity, one: list[Envelope], two: list[Envelope], held: list[str]
) -> list[list[UUID]]:
    """Attribute two batches of the tenant, one transaction each, while a third transaction
    holds the key locks of ``held`` (the tenant's resolution lock for ""); release them
    once both batches wait for a lock. The developer of each event's first actor, per
    batch."""
    tenant = identity.tenant

    async def batch(envelopes: list[Envelope]) -> list[UUID]:
        async with identity.state.db.transaction(tenant) as session:
            attributed = await attribution.attribute_many(session, OUTBOX, envelopes)
        return [a.attributions[0].developer_id for a in attributed]

    conn, holder = await asyncpg.connect(identity.dsn), await asyncpg.connect(identity.dsn)
    try:
        blocker = holder.transaction()
        await blocker.start()
        for key in held:
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"identity:{tenant}|{key}" if key else f"identity:{tenant}",
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
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    finally:
        await conn.close()
        await holder.close()
    # Called directly, no consumer retries: a crossing is asyncpg's DeadlockDetectedError here.
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    return [o for o in outcomes if not isinstance(o, BaseException)]


async def test_two_batches_of_one_tenant_sharing_keys_in_opposite_orders_never_deadlock(
    identity: Identity,
) -> None:
    """Two partitions' batches of one tenant, each event's aliases sharing a key with the
    other batch's in the opposite order. A third transaction holds the middle key until both
    batches wait: a batch locking each event's keys only when its turn comes then holds its
    first event's locks while it waits for its last one's, which the other batch holds —
    the crossing PostgreSQL breaks after ``deadlock_timeout`` by failing one of them."""
    tenant = identity.tenant
    ada, alan = person("Ada Crossley", "ada@cross.test"), person("Alan Crossley", "alan@cross.test")
    grace = person("Grace Crossley", "grace@cross.test")
    # The same addresses seen by another tool: each shares its email key with its twin.
    ada2, alan2, grace2 = (
        person(a.display_name or "", a.email or "", kind="jira") for a in (ada, alan, grace)
    )
    one = [push(tenant, ada), push(tenant, grace), push(tenant, alan)]
    two = [push(tenant, alan2), push(tenant, grace2), push(tenant, ada2)]
    first, second = await batches_released_together(
        identity, one, two, held=["email:grace@cross.test"]
    )
    # Each twin joined the same developer, whichever batch went first.
    assert first == list(reversed(second))


async def test_two_batches_merging_after_counting_words_the_other_counts_never_deadlock(
    identity: Identity,
) -> None:
    """No key in common, but each batch's first event names a word (ada, bob) the other's
    last event names too, and each last event merges two developers, under the tenant's
    resolution lock, which a third transaction holds until both batches wait for it. A
    batch counting each event's names as it goes then holds its first event's word while
    the other, holding the resolution lock, counts it: only one counting, at the batch's
    end, after every lock, leaves nothing to cross."""
    tenant = identity.tenant
    # The first events share no counter: neither a word nor a shard of the totals.
    assert total_shard("name:ada pemberton") != total_shard("name:bob pemberly")
    assert total_shard("at:p.test|ada pemberton", "@") != total_shard("at:q.test|bob pemberly", "@")

    def github(account: str, login: str, **extra: str) -> Actor:
        return Actor.model_validate(
            {"kind": "github", "account_id": account, "login": login, **extra}
        )

    # Two people each, whom a later alias (an address of one, the account of the other) joins.
    by_mail_x, by_account_x, by_mail_y, by_account_y = [
        developer
        for actor in (
            person("Xena Ostrova", "mx@x1.test"),
            github("9001", "mergex"),
            person("Yuri Kalinin", "my@y1.test"),
            github("9002", "mergey"),
        )
        for developer in await identity.attribute(actor)
    ]
    one = [
        push(tenant, person("Ada Pemberton", "ada@p.test")),
        push(tenant, github("9001", "mergex", email="mx@x1.test", display_name="Bob Quigley")),
    ]
    two = [
        push(tenant, person("Bob Pemberly", "bob@q.test")),
        push(tenant, github("9002", "mergey", email="my@y1.test", display_name="Ada Quinn")),
    ]
    first, second = await batches_released_together(identity, one, two, held=[""])
    assert first[1] in (by_mail_x, by_account_x) and second[1] in (by_mail_y, by_account_y)
    conn = await asyncpg.connect(identity.dsn)
    try:
        rows = await conn.fetch(
            "SELECT token, names FROM identity.name_tokens WHERE tenant_id = $1"
            " AND token = ANY($2::text[])",
            tenant,
            ["ada", "bob", "pemberton", "quinn"],
        )
    finally:
        await conn.close()
    # Each name counted once: two with each first name.
    assert {r["token"]: r["names"] for r in rows} == {
        "ada": 2,
        "bob": 2,
        "pemberton": 1,
        "quinn": 1,
    }

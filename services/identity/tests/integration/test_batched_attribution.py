"""Events attributed a batch per transaction (as the consumer hands over a backlog) end as
the same people as the same events one transaction each, and what they announce reaches
the bus in the order of the events."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import asyncpg
import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.common import Actor
from sextant.contracts.topics import ACTIVITY
from sextant.identity import attribution
from sextant.identity.handlers import HANDLERS, OUTBOX, STATISTICS
from sextant.runtime import statistics
from sextant.runtime.consumer import Batched

from .conftest import Identity, person, push

CREATED = "sextant.identity.developer.created.v1"
ATTRIBUTED = "sextant.activity.attributed.v1"


def history() -> list[list[Actor]]:
    """Pushes by new people, by the same people again under other accounts, and by people
    first seen earlier in the same batch."""
    ada = person("Ada Lovelace", "ada@engine.example.org")
    grace = person("Grace Hopper", "grace@navy.example.org")
    linus = person("Linus Torvalds", "linus@kernel.example.org")
    ada_on_github = Actor.model_validate(
        {"kind": "github", "account_id": "1815", "login": "ada", "email": "ADA@engine.example.org"}
    )
    grace_reversed = person("Hopper, Grace", "grace@navy.example.org")
    bot = person("ci-bot", "ci@engine.example.org", is_bot=True)
    return [
        [ada, grace],
        [ada_on_github, linus],
        [ada, linus],
        [grace_reversed, bot],
        [ada_on_github, grace, bot],
    ]


def as_people(developers: list[list[UUID]]) -> list[list[int]]:
    """Each developer id as the order it was first seen in: the same people, whatever ids."""
    first: dict[UUID, int] = {}
    return [[first.setdefault(d, len(first)) for d in event] for event in developers]


async def attribute_one_by_one(identity: Identity, envelopes: list[Envelope]) -> list[list[UUID]]:
    out = []
    for envelope in envelopes:
        async with identity.state.db.transaction(envelope.tenantid) as session:
            attributed = await attribution.attribute(session, OUTBOX, envelope)
        out.append([a.developer_id for a in attributed.attributions])
    return out


async def test_a_batch_finds_the_same_people_as_one_event_at_a_time(identity: Identity) -> None:
    alone, batched = uuid7(), uuid7()
    one_by_one = await attribute_one_by_one(identity, [push(alone, *a) for a in history()])
    envelopes = [push(batched, *actors) for actors in history()]
    async with identity.state.db.transaction(batched) as session:
        together = await attribution.attribute_many(session, OUTBOX, envelopes)

    assert [a.original_id for a in together] == [e.id for e in envelopes]
    developers = [[a.developer_id for a in one.attributions] for one in together]
    assert as_people(developers) == as_people(one_by_one)
    assert as_people(developers) == [[0, 1], [0, 2], [0, 2], [1, 3], [0, 1, 3]]


async def test_a_batch_announces_in_the_order_of_its_events(identity: Identity) -> None:
    tenant = uuid7()
    envelopes = [push(tenant, *actors) for actors in history()]
    async with identity.state.db.transaction(tenant) as session:
        await attribution.attribute_many(session, OUTBOX, envelopes)

    ours = dataclasses.replace(identity, tenant=tenant)
    copies = await ours.events(ATTRIBUTED)
    assert [UUID(c.data["original_id"]) for c in copies] == [e.id for e in envelopes]
    announced = {UUID(e.data["developer_id"]) for e in await ours.events(CREATED)}
    assert announced == {UUID(a["developer_id"]) for c in copies for a in c.data["attributions"]}
    assert len(announced) == 4


async def test_a_batch_that_fails_leaves_nothing_behind(identity: Identity) -> None:
    tenant = uuid7()
    envelopes = [push(tenant, *actors) for actors in history()]
    broken = envelopes[2].model_copy(update={"tenantid": uuid7()})  # not this transaction's
    with pytest.raises(Exception, match="row-level security"):
        async with identity.state.db.transaction(tenant) as session:
            await attribution.attribute_many(session, OUTBOX, [*envelopes[:2], broken])
    ours = dataclasses.replace(identity, tenant=tenant)
    assert await ours.events(ATTRIBUTED) == []
    assert await ours.events(CREATED) == []


async def test_the_consumer_analyzes_a_table_grown_past_its_statistics(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch first analyzes the tables attribution reads that hold twice the rows their
    statistics say (here name_tokens, never analyzed, as in a fresh tenant's first minute),
    as the app role; the next batch within seconds does not look again."""
    tenant = uuid7()
    handler = HANDLERS[ACTIVITY.name]
    assert isinstance(handler, Batched)
    monkeypatch.setattr(STATISTICS, "next_at", float("-inf"))  # no check made yet
    planned = "SELECT reltuples FROM pg_class WHERE oid = 'identity.name_tokens'::regclass"
    conn = await asyncpg.connect(identity.dsn)
    try:
        await conn.execute(
            "INSERT INTO identity.name_tokens (tenant_id, token, names)"
            " SELECT $1, 't' || i, 1 FROM generate_series(1, $2) i",
            tenant,
            statistics.FLOOR,
        )
        await conn.execute("SELECT pg_stat_force_next_flush()")  # the rows counted at once
        seen = []
        for actors in history()[:2]:
            await conn.execute("SELECT pg_clear_relation_stats('identity', 'name_tokens')")
            async with identity.state.db.transaction(tenant) as session:
                await handler.handle_many(session, [push(tenant, *actors)])
            seen.append(await conn.fetchval(planned))
    finally:
        await conn.close()
    assert seen[0] >= statistics.FLOOR
    assert seen[1] == -1

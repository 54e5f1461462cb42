"""Events attributed a batch per transaction (as the consumer hands over a backlog) end as
the same people as the same events one transaction each, and what they announce reaches
the bus in the order of the events."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.common import Actor
from sextant.identity import attribution
from sextant.identity.handlers import OUTBOX

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

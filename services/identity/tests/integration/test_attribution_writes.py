"""The statement storing an event's last new alias also writes what the event writes after
it — the names to count and the outbox rows — and does so only with the alias, only in
the event's transaction and only as its tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest

from sextant.contracts import uuid7
from sextant.contracts.events.platform import DeveloperCreated
from sextant.identity import attribution
from sextant.identity.db import repository
from sextant.identity.db.repository import DeveloperRow, Tail, total_shard
from sextant.identity.domain.keys import keys_for
from sextant.identity.handlers import OUTBOX

from .conftest import Identity, person, push

CREATED = "sextant.identity.developer.created.v1"
ATTRIBUTED = "sextant.activity.attributed.v1"


async def rows(identity: Identity, sql: str, tenant: UUID) -> dict[str, int]:
    """(name, count) rows of ``sql`` for ``tenant``, read past RLS as the server's owner."""
    conn = await asyncpg.connect(identity.dsn)
    try:
        return {r[0]: int(r[1]) for r in await conn.fetch(sql, tenant)}
    finally:
        await conn.close()


async def name_tokens(identity: Identity, tenant: UUID) -> dict[str, int]:
    sql = "SELECT token, names FROM identity.name_tokens WHERE tenant_id = $1"
    return await rows(identity, sql, tenant)


async def names_seen(identity: Identity, tenant: UUID) -> set[str]:
    sql = "SELECT value, 1 FROM identity.names_seen WHERE tenant_id = $1"
    return set(await rows(identity, sql, tenant))


def created(tenant: UUID, developer: UUID) -> tuple[UUID, str, str, str]:
    staged = OUTBOX.stage(
        DeveloperCreated(developer_id=developer), tenant_id=tenant, entity=f"developer:{developer}"
    )
    [row] = OUTBOX.rows([staged])
    return row


async def test_new_developers_are_announced_and_counted_with_their_aliases(
    identity: Identity,
) -> None:
    ada = person("Ada Lovelace", "ada@engine.example.org")
    grace = person("Grace Hopper", "grace@navy.example.org")
    envelope = push(identity.tenant, ada, grace)
    async with identity.state.db.transaction(identity.tenant) as session:
        attributed = await attribution.attribute(session, OUTBOX, envelope)
    developers = [a.developer_id for a in attributed.attributions]
    assert len(set(developers)) == 2

    announced = await identity.events(CREATED)
    assert {UUID(e.data["developer_id"]) for e in announced} == set(developers)
    [copy] = await identity.events(ATTRIBUTED)
    assert copy.data["original_id"] == str(envelope.id)
    assert [UUID(a["developer_id"]) for a in copy.data["attributions"]] == developers

    counts = await name_tokens(identity, identity.tenant)
    for token in ("ada", "lovelace", "grace", "hopper"):
        assert counts[token] == 1
    assert counts["@example.org"] == 2  # both names at the registered domain
    assert sum(n for t, n in counts.items() if t.startswith("#")) == 2  # two names
    assert sum(n for t, n in counts.items() if t.startswith("@#")) == 2  # each at a domain
    assert counts[total_shard("name:ada lovelace")] >= 1


async def test_what_follows_an_alias_is_written_only_when_the_alias_is(
    identity: Identity,
) -> None:
    tenant = identity.tenant
    grace = person("Grace Hopper", "grace@navy.example.org")
    print_, keys = attribution.fingerprint(grace), keys_for(grace)
    first, twin, joined = uuid7(), uuid7(), uuid7()
    now = datetime.now(UTC)
    async with identity.state.db.transaction(tenant) as session:
        stored = await repository.store_alias(
            session,
            tenant,
            uuid7(),
            DeveloperRow(first, "Grace Hopper", False, False, now),
            print_,
            grace,
            keys,
            now,
            tail=Tail(["name:grace hopper"], [created(tenant, first)]),
        )
        # the same alias again: taken, and its tail with it
        taken = await repository.store_alias(
            session,
            tenant,
            uuid7(),
            DeveloperRow(twin, "Grace Hopper", False, False, now),
            print_,
            grace,
            keys,
            now,
            tail=Tail(["name:grace twin"], [created(tenant, twin)]),
        )
        # joining the developer as locked when it is not: moved, nothing written
        other = person("Grace B. Hopper", "gbh@navy.example.org")
        moved = await repository.store_alias(
            session,
            tenant,
            uuid7(),
            first,
            attribution.fingerprint(other),
            other,
            keys_for(other),
            now,
            hold=True,
            tail=Tail(["name:grace b hopper"], [created(tenant, joined)]),
        )
    assert (stored, taken, moved) == ("stored", "taken", "moved")
    assert {UUID(e.data["developer_id"]) for e in await identity.events(CREATED)} == {first}
    assert await names_seen(identity, tenant) == {"name:grace hopper"}
    assert "twin" not in await name_tokens(identity, tenant)


async def test_a_rolled_back_event_leaves_no_alias_count_or_event(identity: Identity) -> None:
    ada = person("Ada Lovelace", "ada@engine.example.org")
    with pytest.raises(RuntimeError):
        async with identity.state.db.transaction(identity.tenant) as session:
            await attribution.attribute(session, OUTBOX, push(identity.tenant, ada))
            raise RuntimeError("the consumer's transaction fails after the handler")
    assert await identity.events(CREATED) == []
    assert await identity.events(ATTRIBUTED) == []
    assert await names_seen(identity, identity.tenant) == set()
    assert await name_tokens(identity, identity.tenant) == {}
    listed = await identity.client.get("/v1/developers", headers=identity.member)
    assert listed.json()["items"] == []


async def test_another_tenants_alias_is_refused_with_everything_it_carries(
    identity: Identity,
) -> None:
    other = uuid7()
    grace = person("Grace Hopper", "grace@navy.example.org")
    developer, now = uuid7(), datetime.now(UTC)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with identity.state.db.transaction(identity.tenant) as session:
            await repository.store_alias(
                session,
                other,  # not the transaction's tenant: row-level security refuses it
                uuid7(),
                DeveloperRow(developer, "Grace Hopper", False, False, now),
                attribution.fingerprint(grace),
                grace,
                keys_for(grace),
                now,
                tail=Tail(["name:grace hopper"], [created(other, developer)]),
            )
    assert await names_seen(identity, other) == set()
    assert await name_tokens(identity, other) == {}
    conn = await asyncpg.connect(identity.dsn)
    try:
        assert not await conn.fetchval(
            "SELECT count(*) FROM identity.aliases WHERE tenant_id = $1", other
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM identity.outbox WHERE envelope->>'tenantid' = $1", str(other)
        )
        records = await conn.fetch("SELECT key FROM sextant_bus.records")
    finally:
        await conn.close()
    assert not [r for r in records if str(other) in (r["key"] or "")]


async def test_the_read_gives_the_population_totals_summed_over_their_shards(
    identity: Identity,
) -> None:
    names = ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"]
    for name in names:
        first = name.split()[0].lower()
        await identity.attribute(person(name, f"{first}@corp.example.org"))
    ada = person("Ada Lovelace", "ada.l@elsewhere.example.net", kind="jira")
    keys = {attribution.fingerprint(ada): keys_for(ada)}
    async with identity.state.db.transaction(identity.tenant) as session:
        read = await repository.attribution_read(session, identity.tenant, keys, {"ada"})
    assert read.held  # the name's holder, so the population was read
    population = repository.population_of(read.counts)
    assert (population.names, population.with_domain) == (3, 3)
    assert population.tokens == {"ada": 1}

"""Migration 0010 fills ``address_names`` from the aliases stored before 0009 collected
it, so an older tenant's addresses are judged by the shared-address rule too."""

from __future__ import annotations

import asyncpg

from sextant.identity.db.backfill import address_names_from_aliases

from .conftest import Identity, person
from .test_merge_suggestions import pending

HOME = "family@home.example.org"


async def address_names(identity: Identity, sql: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(identity.dsn)  # the owner, past RLS
    try:
        rows = await conn.fetch(sql, identity.tenant)
        return {(r["address"], r["name"]) for r in rows}
    finally:
        await conn.close()


async def backfill(identity: Identity) -> None:
    engine = identity.state.db.owner_engine()
    try:
        async with engine.begin() as conn:
            await conn.run_sync(address_names_from_aliases, "identity")
    finally:
        await engine.dispose()


async def test_an_older_tenants_addresses_get_the_names_their_aliases_were_seen_under(
    identity: Identity,
) -> None:
    ann, bob, carl = await identity.attribute(
        person("Ann Lee", HOME), person("Bob Stone", HOME), person("Carl Marx", HOME)
    )
    assert ann == bob == carl
    # As a tenant from before 0009: its aliases stored, the names at its addresses not.
    await address_names(
        identity, "DELETE FROM identity.address_names WHERE tenant_id = $1 RETURNING address, name"
    )
    await backfill(identity)
    await backfill(identity)  # idempotent
    select = "SELECT address, name FROM identity.address_names WHERE tenant_id = $1"
    assert await address_names(identity, select) == {
        (f"email:{HOME}", "ann lee"),
        (f"email:{HOME}", "bob stone"),
        (f"email:{HOME}", "carl marx"),
    }
    # A fourth unrelated name finds the address shared: no merge (with nothing recorded it
    # would have been judged the address's only name and merged), and a split suggested.
    [dora] = await identity.attribute(person("Dora Bell", HOME))
    assert dora != ann
    [split] = await pending(identity)
    assert split["kind"] == "split" and split["developer_ids"] == [str(ann)] * 2

"""The automatic revisit: once a tenant's names have grown enough, the background loop
weighs its early name links again by itself (suggestions only, announced and audited),
and never asks again about an alias a person kept together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from sextant.contracts import Envelope, uuid7
from sextant.identity.main import SPEC
from sextant.identity.revisiting import revisit_grown
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .conftest import Identity, person
from .test_merge_suggestions import pending

REVISITED = "identity.revisit"


@pytest.fixture
async def revisiting(
    database_url: str, internal_keys: InternalKeys, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Identity]:
    """The identity service with its revisit loop looking every 0.1 s."""
    monkeypatch.setenv("SEXTANT_IDENTITY_REVISIT_CHECK_SECONDS", "0.1")
    dsn = plain_dsn(database_url)
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        yield Identity(client, state, internal_keys, dsn, uuid7())


async def revisits(identity: Identity, count: int) -> list[Envelope]:
    """The tenant's revisit audit entries, once there are ``count`` of them (10 s at most)."""
    for _ in range(100):
        audited = [
            e
            for e in await identity.events("sextant.config.changed.v1")
            if e.data["action"] == REVISITED
        ]
        if len(audited) >= count:
            return audited
        await asyncio.sleep(0.1)
    return audited


async def test_the_loop_suggests_splitting_an_early_name_link_once_the_names_have_grown(
    revisiting: Identity,
) -> None:
    identity = revisiting
    # A new tenant's first "David Smith" aliases are judged among 0 names and merge, as
    # does a rare name.
    early = await identity.attribute(
        person("David Smith", "david.smith@gmail.com"),
        person("David Smith", "dsmith@yahoo.com"),
        person("Ottoline Marchbanks", "om@one.test"),
        person("Ottoline Marchbanks", "ottoline@two.test"),
    )
    assert early[0] == early[1] and early[2] == early[3]
    await asyncio.sleep(0.3)  # three passes: two names are not enough growth
    assert await revisits(identity, 0) == []

    # 300 people join, half Davids, half Smiths: among 302 names about 43 others are
    # expected to be called David Smith (302 * (151/402)^2), the link worth 0.5 / 43 as odds.
    crowd = [person(f"David Sn{i}x", f"d{i}@corp{i}.test") for i in range(150)]
    crowd += [person(f"Gv{i}x Smith", f"s{i}@firm{i}.test") for i in range(150)]
    await identity.attribute(*crowd)
    [first] = await revisits(identity, 1)
    assert first.data["actor"] == "identity" and first.data["request_id"] is None
    assert first.data["after"] == {
        "rescored": 0,
        "suggested": 1,
        "names": 302,
        "trigger": "names grew from 0 to 302",
    }
    [split] = await pending(identity)
    assert split["kind"] == "split" and split["developer_ids"] == [str(early[0])] * 2
    assert split["score"] == 0.012  # odds 0.5 / 42.6 = 0.0117, as a probability 0.0116
    detail = await identity.client.get(f"/v1/developers/{early[0]}", headers=identity.member)
    second_david = [a["id"] for a in detail.json()["aliases"] if a["email"] == "dsmith@yahoo.com"]
    assert split["alias_ids"] == second_david
    [announced] = await identity.events("sextant.identity.merge.suggested.v1")
    assert announced.data["kind"] == "split" and announced.data["alias_ids"] == second_david
    assert len(await identity.aliases(early[0])) == 2  # suggested, not split

    # A person keeps the two together; the names double again (612 >= 2 x 302): the loop
    # revisits once more and does not ask about that alias again.
    kept = await identity.client.post(
        f"/v1/developers/merge-suggestions/{split['id']}/reject", headers=identity.admin
    )
    assert kept.status_code == 204, kept.text
    await identity.attribute(*(person(f"Qv{i}x Zr{i}y", f"q{i}@q{i}.test") for i in range(310)))
    audited = await revisits(identity, 2)
    assert [a.data["after"]["suggested"] for a in audited] == [1, 0]
    assert audited[1].data["after"]["trigger"] == "names grew from 302 to 612"
    assert await pending(identity) == []
    assert len(await identity.aliases(early[0])) == 2


async def test_a_tenant_being_revisited_elsewhere_is_skipped_not_revisited_twice(
    identity: Identity,
) -> None:
    await identity.attribute(*(person(f"Pq{i}x Rs{i}y", f"p{i}@p{i}.test") for i in range(100)))
    other = await asyncpg.connect(identity.dsn)  # another replica, revisiting this tenant
    try:
        await other.execute(
            "INSERT INTO identity.revisits (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING",
            identity.tenant,
        )
        async with other.transaction():
            await other.execute(
                "SELECT 1 FROM identity.revisits WHERE tenant_id = $1 FOR UPDATE", identity.tenant
            )
            assert identity.tenant not in await revisit_grown(identity.state)
        assert identity.tenant in await revisit_grown(identity.state)
        assert identity.tenant not in await revisit_grown(identity.state)  # done
    finally:
        await other.close()

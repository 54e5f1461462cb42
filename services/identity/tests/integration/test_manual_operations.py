"""Manual merge, split, move and lock through the API: each announced as an identity event
and audited as config.changed in the same transaction; a split after a merge restores
exactly what was there; bad input answers 4xx problem+json, another tenant's ids 404."""

from __future__ import annotations

from uuid import UUID

from sextant.contracts import uuid7

from .conftest import Identity, assert_problem, person


async def assignment(identity: Identity, *developers: UUID) -> dict[UUID, UUID]:
    return {alias: d for d in developers for alias in await identity.aliases(d)}


async def test_a_split_after_a_merge_restores_exactly_the_previous_assignment(
    identity: Identity,
) -> None:
    x, _, y, z, _ = await identity.attribute(
        person("Xavier Lumière", "xavier@x.example.org"),
        person("Xavier Lumiere", "xl@other.example.org"),
        person("Yolanda Ybarra", "yolanda@y.example.org"),
        person("Zoltan Zed", "z1@z.example.org"),
        person("Zoltan Zed", "z2@z.example.org"),
    )
    before = await assignment(identity, x, y, z)
    assert len(set(before.values())) == 3 and len(before) == 5

    merged = await identity.client.post(
        "/v1/developers/merge",
        json={"survivor_id": str(x), "merged_ids": [str(y), str(z)]},
        headers={**identity.admin, "X-Request-Id": "req-merge"},
    )
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["aliases"]) == 5
    gone = assert_problem(
        await identity.client.get(f"/v1/developers/{y}", headers=identity.member), 404
    )
    assert gone["merged_into"] == str(x)

    for restored in (z, y):
        mine = [str(a) for a, d in before.items() if d == restored]
        split = await identity.client.post(
            f"/v1/developers/{x}/split", json={"alias_ids": mine}, headers=identity.admin
        )
        assert split.status_code == 200, split.text
        assert split.json()["restored"] is True
        assert split.json()["new_developer"]["id"] == str(restored)
    assert await assignment(identity, x, y, z) == before

    [announced] = await identity.events("sextant.identity.developers.merged.v1")
    assert announced.data["rule"] == "manual" and announced.data["actor"] == "tenant_admin-1"
    splits = await identity.events("sextant.identity.developer.split.v1")
    assert [s.data["new_developer_id"] for s in splits] == [str(z), str(y)]
    audits = await identity.events("sextant.config.changed.v1")
    assert [a.data["action"] for a in audits] == [
        "identity.merge",
        "identity.split",
        "identity.split",
    ]
    merge_audit = audits[0].data
    assert merge_audit["request_id"] == "req-merge" and merge_audit["target_id"] == str(x)
    assert merge_audit["actor"] == "tenant_admin-1" and merge_audit["target_type"] == "developer"
    assert len(merge_audit["after"]["survivor"]["alias_ids"]) == 5

    # A person split them: a new alias linking both does not merge them back.
    [joined] = await identity.attribute(person("Xavier Lumiere", "yolanda@y.example.org"))
    assert joined in {x, y}
    assert await assignment(identity, y) and await assignment(identity, x)
    assert len(await identity.events("sextant.identity.developers.merged.v1")) == 1


async def test_a_split_of_other_aliases_makes_a_new_developer_and_an_alias_moves(
    identity: Identity,
) -> None:
    hedy, *_ = await identity.attribute(
        person("Hedy Lamarr", "hedy@one.example.org"),
        person("Hedy Lamarr", "hedy@two.example.org"),
        person("Hedy Lamarr", "hedy@three.example.org"),
    )
    first, second, third = sorted(await identity.aliases(hedy))
    split = await identity.client.post(
        f"/v1/developers/{hedy}/split", json={"alias_ids": [str(third)]}, headers=identity.admin
    )
    assert split.status_code == 200, split.text
    body = split.json()
    assert body["restored"] is False
    new = UUID(body["new_developer"]["id"])
    assert new != hedy and await identity.aliases(new) == {third}
    # Developers are keys of their own, so offset order is not creation order across them.
    created = await identity.events("sextant.identity.developer.created.v1")
    assert str(new) in {e.data["developer_id"] for e in created}

    hedy_two = person("Hedy Lamarr", "hedy@two.example.org")
    assert await identity.attribute(hedy_two) == [hedy]  # read from the database, and cached
    moved = await identity.client.post(
        f"/v1/developers/aliases/{second}/move",
        json={"to_developer_id": str(new)},
        headers=identity.admin,
    )
    assert moved.status_code == 200, moved.text
    assert await identity.aliases(hedy) == {first}
    assert await identity.aliases(new) == {second, third}
    [event] = await identity.events("sextant.identity.alias.moved.v1")
    assert event.data == {
        "alias_id": str(second),
        "from_developer_id": str(hedy),
        "to_developer_id": str(new),
        "actor": "tenant_admin-1",
    }
    # The last alias cannot move away: merge instead.
    assert_problem(
        await identity.client.post(
            f"/v1/developers/aliases/{first}/move",
            json={"to_developer_id": str(new)},
            headers=identity.admin,
        ),
        409,
    )
    # The moved alias is attributed where it is now, not where a cache remembers it.
    assert await identity.attribute(hedy_two) == [new]

    lock = f"/v1/developers/{hedy}/lock"
    assert (await identity.client.put(lock, json={"locked": True}, headers=identity.admin)).json()[
        "locked"
    ] is True
    assert (await identity.client.put(lock, json={"locked": True}, headers=identity.admin)).json()[
        "locked"
    ] is True
    assert len(await identity.events("sextant.identity.developer.lock_changed.v1")) == 1
    unlocked = await identity.client.put(lock, json={"locked": False}, headers=identity.admin)
    assert unlocked.json()["locked"] is False
    actions = sorted(a.data["action"] for a in await identity.events("sextant.config.changed.v1"))
    assert actions == ["identity.alias.move", "identity.lock", "identity.split", "identity.unlock"]


async def test_manual_operations_refuse_bad_input_and_other_tenants(identity: Identity) -> None:
    ada, bob = await identity.attribute(
        person("Ada Byron", "ada@byron.example.org"), person("Bob Dobbs", "bob@dobbs.example.org")
    )
    [alias] = await identity.aliases(ada)
    admin, unknown = identity.admin, uuid7()

    async def merge(body: object) -> dict[str, object]:
        response = await identity.client.post("/v1/developers/merge", json=body, headers=admin)
        return {"status": response.status_code, "type": response.headers["content-type"]}

    problem = "application/problem+json"
    assert await merge({"survivor_id": str(ada), "merged_ids": [str(ada)]}) == {
        "status": 400,
        "type": problem,
    }
    assert await merge({"survivor_id": str(ada), "merged_ids": []}) == {
        "status": 422,
        "type": problem,
    }
    assert await merge({"survivor_id": str(ada), "merged_ids": [str(bob), str(bob)]}) == {
        "status": 400,
        "type": problem,
    }
    assert await merge({"survivor_id": str(unknown), "merged_ids": [str(bob)]}) == {
        "status": 404,
        "type": problem,
    }
    assert await merge({"survivor_id": str(ada), "merged_ids": [str(unknown)]}) == {
        "status": 404,
        "type": problem,
    }
    assert await merge({"survivor_id": "not-a-uuid", "merged_ids": [str(bob)]}) == {
        "status": 422,
        "type": problem,
    }

    split = f"/v1/developers/{ada}/split"
    assert_problem(
        await identity.client.post(split, json={"alias_ids": [str(alias)]}, headers=admin), 400
    )
    assert_problem(await identity.client.post(split, json={"alias_ids": []}, headers=admin), 422)
    assert_problem(
        await identity.client.post(split, json={"alias_ids": [str(unknown)]}, headers=admin), 404
    )
    move = f"/v1/developers/aliases/{alias}/move"
    assert_problem(
        await identity.client.post(move, json={"to_developer_id": str(ada)}, headers=admin), 400
    )
    assert_problem(
        await identity.client.post(move, json={"to_developer_id": str(unknown)}, headers=admin), 404
    )
    assert_problem(
        await identity.client.post(
            f"/v1/developers/aliases/{unknown}/move",
            json={"to_developer_id": str(bob)},
            headers=admin,
        ),
        404,
    )
    assert_problem(
        await identity.client.put(
            f"/v1/developers/{unknown}/lock", json={"locked": True}, headers=admin
        ),
        404,
    )
    assert_problem(
        await identity.client.put(
            f"/v1/developers/{ada}/lock", json={"locked": "maybe"}, headers=admin
        ),
        422,
    )

    # Roles: members and managers read, never change; partners do not even read.
    body = {"survivor_id": str(ada), "merged_ids": [str(bob)]}
    for role in ("member", "manager", "partner"):
        assert_problem(
            await identity.client.post(
                "/v1/developers/merge", json=body, headers=identity.as_role(role)
            ),
            403,
        )
    for path in ("/v1/developers", f"/v1/developers/{ada}"):
        assert_problem(await identity.client.get(path, headers=identity.as_role("partner")), 403)
        ok = await identity.client.get(path, headers=identity.as_role("manager"))
        assert ok.status_code == 200

    # Another tenant's admin sees none of it and changes none of it: 404, never data.
    other = identity.as_role("tenant_admin", uuid7())
    assert_problem(await identity.client.get(f"/v1/developers/{ada}", headers=other), 404)
    for method, path, json in (
        ("POST", "/v1/developers/merge", body),
        ("POST", split, {"alias_ids": [str(alias)]}),
        ("POST", move, {"to_developer_id": str(bob)}),
        ("PUT", f"/v1/developers/{ada}/lock", {"locked": True}),
    ):
        assert_problem(await identity.client.request(method, path, json=json, headers=other), 404)
    assert await identity.aliases(ada) == {alias}
    assert await identity.events("sextant.config.changed.v1") == []

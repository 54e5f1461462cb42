"""Links too weak to merge on their own become merge suggestions, announced on the bus; a
person confirms (the pair merges, announced and audited) or rejects (never suggested or
merged automatically again)."""

from __future__ import annotations

from uuid import UUID

from sextant.contracts import uuid7

from .conftest import Identity, assert_problem, person


async def pending(identity: Identity) -> list[dict[str, object]]:
    response = await identity.client.get(
        "/v1/developers/merge-suggestions", headers=identity.member
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_rejected_pair_is_never_suggested_or_merged_again(identity: Identity) -> None:
    middle = person("Ada Augusta Lovelace", "ada@one.example.org")
    plain = person("Ada Lovelace", "ada@two.example.org")
    first, second = await identity.attribute(middle, plain)
    assert first != second

    [suggestion] = await pending(identity)
    assert set(suggestion["developer_ids"]) == {str(first), str(second)}  # type: ignore[arg-type]
    assert suggestion["rule"] == "same first and last name, middle names differ"
    evidence = suggestion["evidence"]
    assert isinstance(evidence, list) and evidence[0] == "name:ada lovelace"
    assert any("others expected to carry the name" in e for e in evidence[1:])
    [announced] = await identity.events("sextant.identity.merge.suggested.v1")
    assert announced.data["suggestion_id"] == suggestion["id"]
    assert (announced.data["kind"], announced.data["alias_ids"]) == ("merge", [])

    reject = f"/v1/developers/merge-suggestions/{suggestion['id']}/reject"
    assert_problem(await identity.client.post(reject, headers=identity.member), 403)
    response = await identity.client.post(reject, headers=identity.admin)
    assert response.status_code == 204, response.text
    assert await pending(identity) == []
    rejected = await identity.client.get(
        "/v1/developers/merge-suggestions", params={"status": "rejected"}, headers=identity.member
    )
    [decided] = rejected.json()["items"]
    assert decided["status"] == "rejected" and decided["decided_by"] == "tenant_admin-1"
    assert_problem(await identity.client.post(reject, headers=identity.admin), 409)

    # The same weak link again, through a new alias: no new suggestion.
    third = person("Ada Lovelace", "ada@three.example.org")
    [holder] = await identity.attribute(third)
    assert holder == second
    assert await pending(identity) == []
    # Even a strong link to both (one's name, the other's address) does not merge them.
    bridge = person("Ada Augusta Lovelace", "ada@two.example.org")
    [joined] = await identity.attribute(bridge)
    assert joined in {first, second}
    assert await identity.aliases(first) and await identity.aliases(second)
    assert await pending(identity) == []
    assert await identity.events("sextant.identity.developers.merged.v1") == []
    [audited] = await identity.events("sextant.config.changed.v1")
    assert audited.data["action"] == "identity.merge_suggestion.reject"
    assert audited.data["target_id"] == suggestion["id"]


async def test_a_confirmed_suggestion_merges_the_pair_announced_and_audited(
    identity: Identity,
) -> None:
    older, newer = await identity.attribute(
        person("Grace Brewster Hopper", "grace@one.example.org"),
        person("Grace Hopper", "grace@two.example.org"),
    )
    [suggestion] = await pending(identity)
    confirm = f"/v1/developers/merge-suggestions/{suggestion['id']}/confirm"
    response = await identity.client.post(
        confirm, headers={**identity.admin, "X-Request-Id": "req-confirm-1"}
    )
    assert response.status_code == 200, response.text
    survivor = response.json()
    assert survivor["id"] == str(older) and len(survivor["aliases"]) == 2
    gone = assert_problem(
        await identity.client.get(f"/v1/developers/{newer}", headers=identity.member), 404
    )
    assert gone["merged_into"] == str(older)
    assert await pending(identity) == []
    assert_problem(await identity.client.post(confirm, headers=identity.admin), 409)

    [merged] = await identity.events("sextant.identity.developers.merged.v1")
    assert merged.data["survivor_id"] == str(older)
    assert merged.data["merged_ids"] == [str(newer)]
    assert merged.data["actor"] == "tenant_admin-1"
    assert merged.data["rule"] == suggestion["rule"]
    [audited] = await identity.events("sextant.config.changed.v1")
    assert audited.data["action"] == "identity.merge_suggestion.confirm"
    assert audited.data["request_id"] == "req-confirm-1"
    assert audited.data["after"] == {"status": "confirmed", "survivor_id": str(older)}


async def test_a_locked_developer_gains_no_alias_by_name_and_is_never_merged_automatically(
    identity: Identity,
) -> None:
    katherine = person("Katherine Johnson", "katherine@nasa.example.org")
    [locked] = await identity.attribute(katherine)
    response = await identity.client.put(
        f"/v1/developers/{locked}/lock", json={"locked": True}, headers=identity.admin
    )
    assert response.status_code == 200 and response.json()["locked"] is True
    before = await identity.aliases(locked)

    [namesake] = await identity.attribute(person("Katherine Johnson", "kj@other.example.org"))
    assert namesake != locked
    assert await identity.aliases(locked) == before
    [suggestion] = await pending(identity)
    assert set(suggestion["developer_ids"]) == {str(locked), str(namesake)}  # type: ignore[arg-type]

    # Her own address still attributes to her: an identifier, not a guess.
    [same] = await identity.attribute(person("K. Johnson", "katherine@nasa.example.org"))
    assert same == locked
    assert await identity.events("sextant.identity.developers.merged.v1") == []
    [changed] = await identity.events("sextant.identity.developer.lock_changed.v1")
    assert changed.data == {"developer_id": str(locked), "locked": True, "actor": "tenant_admin-1"}


async def test_suggestion_routes_refuse_bad_input(identity: Identity) -> None:
    unknown = uuid7()
    for verb in ("confirm", "reject"):
        assert_problem(
            await identity.client.post(
                f"/v1/developers/merge-suggestions/{unknown}/{verb}", headers=identity.admin
            ),
            404,
        )
    assert_problem(
        await identity.client.get(
            "/v1/developers/merge-suggestions", params={"status": "maybe"}, headers=identity.member
        ),
        422,
    )
    assert_problem(
        await identity.client.get(
            "/v1/developers/merge-suggestions", headers=identity.as_role("partner")
        ),
        403,
    )
    # Another tenant's suggestion is unknown here.
    other = uuid7()
    await identity.attribute(
        person("Alan Mathison Turing", "alan@one.example.org"),
        person("Alan Turing", "alan@two.example.org"),
        tenant=other,
    )
    theirs = await identity.client.get(
        "/v1/developers/merge-suggestions", headers=identity.as_role("member", other)
    )
    [suggestion] = theirs.json()["items"]
    assert await pending(identity) == []
    assert_problem(
        await identity.client.post(
            f"/v1/developers/merge-suggestions/{UUID(suggestion['id'])}/confirm",
            headers=identity.admin,
        ),
        404,
    )


async def test_an_address_found_shared_merges_no_more_and_suggests_splitting_what_it_merged(
    identity: Identity,
) -> None:
    home = "family@home.example.org"
    ann, bob, carl = await identity.attribute(
        person("Ann Lee", home), person("Bob Stone", home), person("Carl Marx", home)
    )
    assert ann == bob == carl  # three names at one address: still one person's, maybe
    assert await pending(identity) == []
    # A fourth unrelated name: the address is shared (keys.is_shared_address), a merge key
    # no more, and what it merged becomes a suggestion to split, not a silent un-merge.
    [dora] = await identity.attribute(person("Dora Bell", home))
    assert dora != ann
    assert len(await identity.aliases(ann)) == 3
    [split] = await pending(identity)
    assert split["kind"] == "split"
    assert split["developer_ids"] == [str(ann), str(ann)]
    assert split["evidence"][0] == f"email:{home}"  # type: ignore[index]
    assert "4 unrelated names" in split["evidence"][1]  # type: ignore[index]
    [announced] = await identity.events("sextant.identity.merge.suggested.v1")
    assert announced.data["suggestion_id"] == split["id"]
    assert announced.data["kind"] == "split"
    assert announced.data["developer_ids"] == [str(ann), str(ann)]
    assert sorted(announced.data["alias_ids"]) == sorted(split["alias_ids"])  # type: ignore[arg-type]
    # A fifth name is kept apart too, and suggests nothing more.
    [eve] = await identity.attribute(person("Eve Moss", home))
    assert eve not in {ann, dora}
    assert [s["id"] for s in await pending(identity)] == [split["id"]]

    confirm = f"/v1/developers/merge-suggestions/{split['id']}/confirm"
    response = await identity.client.post(confirm, headers=identity.admin)
    assert response.status_code == 200, response.text
    kept = response.json()
    assert kept["id"] == str(ann)
    assert [a["display_name"] for a in kept["aliases"]] == ["Ann Lee"]
    moved = split["alias_ids"]
    assert isinstance(moved, list) and len(moved) == 2
    assert kept["aliases"][0]["id"] not in moved
    assert await pending(identity) == []
    # Confirming is one change, audited once: the confirmation, naming the split it made.
    [audited] = await identity.events("sextant.config.changed.v1")
    assert audited.data["action"] == "identity.merge_suggestion.confirm"
    assert audited.data["target_id"] == split["id"]
    assert audited.data["before"]["developer"]["alias_ids"] == sorted(
        [kept["aliases"][0]["id"], *moved]  # type: ignore[list-item]
    )
    after = audited.data["after"]
    assert after["status"] == "confirmed" and sorted(after["alias_ids"]) == sorted(moved)
    assert after["developer"]["alias_ids"] == [kept["aliases"][0]["id"]]
    assert sorted(after["new_developer"]["alias_ids"]) == sorted(moved)

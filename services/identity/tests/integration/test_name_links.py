"""The service weighs a name as the batch resolver does: against the tenant's own
population of names. A namesake in a crowd of common names is suggested, a rare name
merges, and both record what they were scored on."""

from __future__ import annotations

from .conftest import Identity, person
from .test_merge_suggestions import pending


async def test_a_common_name_is_suggested_and_a_rare_one_merges(identity: Identity) -> None:
    # Twenty given names times twenty surnames: another "Given0 Sur0" is to be expected.
    crowd = [
        person(f"Given{chr(97 + g)} Sur{chr(97 + s)}", f"p{g}-{s}@x{g}-{s}.test")
        for g in range(20)
        for s in range(20)
    ]
    placed = await identity.attribute(*crowd)
    assert len(set(placed)) == 400
    [namesake] = await identity.attribute(person("Givena Sura", "someone@else.test"))
    assert namesake not in placed
    [suggestion] = await pending(identity)
    assert set(suggestion["developer_ids"]) == {str(placed[0]), str(namesake)}  # type: ignore[arg-type]
    assert float(suggestion["score"]) < 0.75  # type: ignore[arg-type]
    evidence = suggestion["evidence"]
    assert isinstance(evidence, list) and "name:givena sura" in evidence
    assert any("among 400 names seen so far" in e for e in evidence)

    first, second = await identity.attribute(
        person("Zebulon Quarrington", "zq@one.test"), person("Zebulon Quarrington", "z@two.test")
    )
    assert first == second


async def test_a_developers_detail_shows_the_link_that_placed_each_alias_and_its_merges(
    identity: Identity,
) -> None:
    # One person at two addresses under a rare name (a name link), then a login that
    # bridges two developers (a merge by an identifier).
    first, second = await identity.attribute(
        person("Ottoline Marchbanks", "om@one.test"), person("Ottoline Marchbanks", "om@two.test")
    )
    assert first == second
    detail = (await identity.client.get(f"/v1/developers/{first}", headers=identity.member)).json()
    placed = {a["email"]: (a["placed_by"], a["placed_score"]) for a in detail["aliases"]}
    assert placed["om@one.test"] == (None, None)  # it started the developer
    rule, score = placed["om@two.test"]
    assert rule.startswith(("same full name (", "a login or mailbox that spells the name ("))
    # Judged against the tenant's names before this batch: none yet, and it says so.
    assert "others expected to carry the name among 0 names seen so far" in rule
    assert 0.75 <= score < 1.0
    assert detail["merges"] == []

    [other] = await identity.attribute(
        person("Ottie", "ottie@three.test", login="ottie", kind="github")
    )
    assert other != first
    [bridge] = await identity.attribute(
        person("Ottie", "om@one.test", login="ottie", kind="github")
    )
    detail = (await identity.client.get(f"/v1/developers/{bridge}", headers=identity.member)).json()
    [merge] = detail["merges"]
    assert merge["actor"] is None and merge["score"] == 1.0
    assert {merge["survivor_id"], merge["merged_id"]} == {str(first), str(other)}
    assert merge["rule"] in {"same email address", "same GitHub login"}

    moved_alias = next(a["id"] for a in detail["aliases"] if a["email"] == "om@two.test")
    [elsewhere] = await identity.attribute(person("Quentin Zywiec", "qz@four.test"))
    moved = await identity.client.post(
        f"/v1/developers/aliases/{moved_alias}/move",
        json={"to_developer_id": str(elsewhere)},
        headers=identity.admin,
    )
    assert moved.status_code == 200, moved.text
    [alias] = [a for a in moved.json()["aliases"] if a["id"] == moved_alias]
    assert alias["placed_by"] == f"moved by tenant_admin-1 from developer {bridge}"
    assert alias["placed_score"] is None


async def test_a_developers_detail_shows_its_first_twenty_merges_and_pages_the_rest(
    identity: Identity,
) -> None:
    people = [person(f"Person {chr(97 + i)}{chr(97 + i)}", f"p{i}@x{i}.test") for i in range(22)]
    survivor, *others = await identity.attribute(*people)
    assert len({survivor, *others}) == 22
    merged = await identity.client.post(
        "/v1/developers/merge",
        json={"survivor_id": str(survivor), "merged_ids": [str(o) for o in others]},
        headers=identity.admin,
    )
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["merges"]) == 20  # 21 merges: the detail shows 20
    cursor = merged.json()["merges_next_cursor"]
    assert cursor is not None
    url = f"/v1/developers/{survivor}/merges"
    rest = await identity.client.get(url, params={"cursor": cursor}, headers=identity.member)
    assert rest.status_code == 200, rest.text
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    shown = {m["id"] for m in merged.json()["merges"]} | {rest.json()["items"][0]["id"]}
    whole = await identity.client.get(url, params={"limit": 21}, headers=identity.member)
    assert {m["id"] for m in whole.json()["items"]} == shown and len(shown) == 21
    gone = await identity.client.get(f"/v1/developers/{others[0]}/merges", headers=identity.member)
    assert gone.status_code == 404 and gone.json()["merged_into"] == str(survivor)


async def test_a_tenants_first_name_links_are_revisited_once_its_names_have_grown(
    identity: Identity,
) -> None:
    # The synthetic namesake scenario: a new tenant's first "David Smith" aliases are judged
    # among 0 names and merge, as does a rare name.
    early = await identity.attribute(
        person("David Smith", "david.smith@gmail.com"),
        person("David Smith", "dsmith@yahoo.com"),
        person("Ottoline Marchbanks", "om@one.test"),
        person("Ottoline Marchbanks", "ottoline@two.test"),
    )
    assert early[0] == early[1] and early[2] == early[3]
    # Then 300 people join, half of them Davids, half Smiths: among 302 names, about 43
    # others are expected to be called David Smith (302 * (151/402)^2), so the first link
    # is worth 0.5 / 43 as odds, about 0.01, far below a merge.
    crowd = [person(f"David Sn{i}x", f"d{i}@corp{i}.test") for i in range(150)]
    crowd += [person(f"Gv{i}x Smith", f"s{i}@firm{i}.test") for i in range(150)]
    await identity.attribute(*crowd)

    revisit = await identity.client.post("/v1/developers/revisit", headers=identity.admin)
    assert revisit.status_code == 200, revisit.text
    assert revisit.json() == {"rescored": 0, "suggested": 1}
    [split] = await pending(identity)
    assert split["kind"] == "split" and split["developer_ids"] == [str(early[0])] * 2
    evidence = split["evidence"]
    assert isinstance(evidence, list) and evidence[0] == "name:david smith"
    assert "among 0 names seen so far" in evidence[1]  # how it was judged then
    assert "among 302 names seen so far" in evidence[2]  # and now
    assert "43 others expected" in evidence[2]
    assert split["score"] == 0.012  # odds 0.5 / 42.6 = 0.0117, as a probability 0.0116
    # Nothing was split silently, and asking again suggests nothing more.
    assert len(await identity.aliases(early[0])) == 2
    again = await identity.client.post("/v1/developers/revisit", headers=identity.admin)
    assert again.json() == {"rescored": 0, "suggested": 0}
    # Kept together by a person: a later revisit never asks about it again.
    kept = await identity.client.post(
        f"/v1/developers/merge-suggestions/{split['id']}/reject", headers=identity.admin
    )
    assert kept.status_code == 204, kept.text
    after = await identity.client.post("/v1/developers/revisit", headers=identity.admin)
    assert after.json() == {"rescored": 0, "suggested": 0}
    assert await pending(identity) == []
    forbidden = await identity.client.post("/v1/developers/revisit", headers=identity.member)
    assert forbidden.status_code == 403

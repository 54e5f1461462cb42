"""Teams over time (memberships with start and end days, overlaps refused, audited) and
the developer list's search, team filter and bots hidden by default."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sextant.contracts import uuid7
from sextant.contracts.events.common import Actor
from sextant.identity.service import today

from .conftest import Identity, assert_problem, person


async def names(identity: Identity, **params: Any) -> list[str]:
    response = await identity.client.get("/v1/developers", params=params, headers=identity.member)
    assert response.status_code == 200, response.text
    return [d["display_name"] for d in response.json()["items"]]


async def test_memberships_over_time_refuse_overlaps_and_filter_developers(
    identity: Identity,
) -> None:
    ada, bob, cyd = await identity.attribute(
        person("Ada Lovelace", "ada@example.org"),
        person("Bob Dobbs", "bob@example.org"),
        person("Cyd Charisse", "cyd@example.org"),
    )
    created = await identity.client.post(
        "/v1/teams", json={"name": "Platform"}, headers=identity.admin
    )
    assert created.status_code == 201, created.text
    team = created.json()["id"]
    assert_problem(
        await identity.client.post("/v1/teams", json={"name": "Platform"}, headers=identity.admin),
        409,
    )
    listed = await identity.client.get("/v1/teams", headers=identity.member)
    assert [t["name"] for t in listed.json()["items"]] == ["Platform"]

    day = today()
    members = f"/v1/teams/{team}/members"

    async def join(developer: object, starts: int, ends: int | None = None) -> Any:
        body = {"developer_id": str(developer), "starts_on": str(day + timedelta(days=starts))}
        if ends is not None:
            body["ends_on"] = str(day + timedelta(days=ends))
        return await identity.client.post(members, json=body, headers=identity.admin)

    assert (await join(ada, -60, -31)).status_code == 201  # a month, over
    assert (await join(bob, -45)).status_code == 201  # ongoing
    clash = assert_problem(await join(ada, -40, -20), 409)
    assert "membership_id" in clash
    assert (await join(ada, -30)).status_code == 201  # the day after the first ended
    assert (await join(cyd, 10, 20)).status_code == 201  # not yet
    assert_problem(await join(cyd, 5, 1), 400)

    async def on(offset: int | None) -> list[str]:
        params = {} if offset is None else {"on": str(day + timedelta(days=offset))}
        reply = await identity.client.get(members, params=params, headers=identity.member)
        assert reply.status_code == 200, reply.text
        return sorted(m["display_name"] for m in reply.json()["items"])

    assert await on(-40) == ["Ada Lovelace", "Bob Dobbs"]
    assert await on(-31) == ["Ada Lovelace", "Bob Dobbs"]
    assert await on(-58) == ["Ada Lovelace"]
    assert await on(15) == ["Ada Lovelace", "Bob Dobbs", "Cyd Charisse"]
    assert len(await on(None)) == 4  # every membership, the whole history
    assert await names(identity, team=team) == ["Ada Lovelace", "Bob Dobbs"]

    # Memberships follow a merge to the developer it leaves.
    await identity.client.post(
        "/v1/developers/merge",
        json={"survivor_id": str(ada), "merged_ids": [str(bob)]},
        headers=identity.admin,
    )
    assert await on(0) == ["Ada Lovelace", "Ada Lovelace"]
    assert await names(identity, team=team) == ["Ada Lovelace"]

    # Order holds per partition key (per team, per developer), not across them.
    actions = sorted(a.data["action"] for a in await identity.events("sextant.config.changed.v1"))
    assert actions == ["identity.merge", "identity.team.create"] + ["identity.team.member.add"] * 4
    [created_event] = await identity.events("sextant.identity.team.created.v1")
    assert created_event.data["team_id"] == team
    assert created_event.data["name"] == "Platform"
    spans = {
        (e.data["developer_id"], e.data["starts_on"], e.data["ends_on"], e.data["removed"])
        for e in await identity.events("sextant.identity.team.membership_changed.v1")
    }
    assert spans == {
        (str(ada), str(day - timedelta(days=60)), str(day - timedelta(days=31)), False),
        (str(bob), str(day - timedelta(days=45)), None, False),
        (str(ada), str(day - timedelta(days=30)), None, False),
        (str(cyd), str(day + timedelta(days=10)), str(day + timedelta(days=20)), False),
    }  # the refused ones announce nothing; the merge moves none (they read as the survivor)

    deleted = await identity.client.delete(f"/v1/teams/{team}", headers=identity.admin)
    assert deleted.status_code == 204
    [gone] = await identity.events("sextant.identity.team.deleted.v1")
    assert gone.data["team_id"] == team
    assert gone.subject == f"team:{team}"
    assert_problem(await identity.client.get(members, headers=identity.member), 410)
    assert (await identity.client.get("/v1/teams", headers=identity.member)).json()["items"] == []
    kept = await identity.client.get(
        "/v1/teams", params={"include_deleted": True}, headers=identity.member
    )
    assert [t["deleted"] for t in kept.json()["items"]] == [True]
    recreated = await identity.client.post(
        "/v1/teams", json={"name": "Platform"}, headers=identity.admin
    )
    assert recreated.status_code == 201  # the name is free again


async def test_team_routes_refuse_bad_input_roles_and_other_tenants(identity: Identity) -> None:
    [ada] = await identity.attribute(person("Ada Lovelace", "ada@example.org"))
    team = (
        await identity.client.post("/v1/teams", json={"name": "Core"}, headers=identity.admin)
    ).json()["id"]
    members = f"/v1/teams/{team}/members"
    start = {"developer_id": str(ada), "starts_on": "2026-01-01"}
    assert_problem(
        await identity.client.post("/v1/teams", json={"name": ""}, headers=identity.admin), 422
    )
    assert_problem(
        await identity.client.post("/v1/teams", json={"name": "  "}, headers=identity.admin), 400
    )
    assert_problem(
        await identity.client.post("/v1/teams", json={"name": "X"}, headers=identity.member), 403
    )
    assert_problem(await identity.client.post(members, json=start, headers=identity.member), 403)
    assert_problem(
        await identity.client.post(
            members, json={**start, "developer_id": str(uuid7())}, headers=identity.admin
        ),
        404,
    )
    assert_problem(
        await identity.client.post(
            members, json={**start, "starts_on": "soon"}, headers=identity.admin
        ),
        422,
    )
    assert_problem(
        await identity.client.post(
            f"/v1/teams/{uuid7()}/members", json=start, headers=identity.admin
        ),
        404,
    )
    assert_problem(
        await identity.client.get(f"/v1/teams/{uuid7()}/members", headers=identity.member), 404
    )
    assert_problem(
        await identity.client.get(members, params={"on": "2026-13-01"}, headers=identity.member),
        422,
    )
    assert_problem(
        await identity.client.get(
            "/v1/developers", params={"team": str(uuid7())}, headers=identity.member
        ),
        404,
    )
    assert_problem(await identity.client.get("/v1/teams", headers=identity.as_role("partner")), 403)

    other = uuid7()
    assert_problem(
        await identity.client.get(members, headers=identity.as_role("member", other)), 404
    )
    assert_problem(
        await identity.client.post(
            members, json=start, headers=identity.as_role("tenant_admin", other)
        ),
        404,
    )
    assert (
        await identity.client.get("/v1/teams", headers=identity.as_role("member", other))
    ).json()["items"] == []


async def test_developers_search_by_name_email_or_login_with_bots_hidden_by_default(
    identity: Identity,
) -> None:
    await identity.attribute(
        person("Ada Lovelace", "ada@analytical.example.org"),
        Actor(kind="github", account_id="1", login="grace-h", display_name="Grace Hopper"),
        Actor(kind="github", account_id="2", login="dependabot[bot]", is_bot=True),
        person("Percent 100%", "percent@example.org"),
    )
    assert await names(identity) == ["Ada Lovelace", "Grace Hopper", "Percent 100%"]
    assert await names(identity, q="LOVE") == ["Ada Lovelace"]
    assert await names(identity, q="analytical.example") == ["Ada Lovelace"]
    assert await names(identity, q="grace-h") == ["Grace Hopper"]
    assert await names(identity, q="100%") == ["Percent 100%"]
    assert await names(identity, q="%") == ["Percent 100%"]  # a literal, not a wildcard
    assert await names(identity, q="dependabot") == []
    assert await names(identity, q="dependabot", include_bots=True) == ["dependabot[bot]"]
    assert len(await names(identity, include_bots=True)) == 4
    assert await names(identity, limit=2) == ["Ada Lovelace", "Grace Hopper"]
    assert_problem(
        await identity.client.get("/v1/developers", params={"limit": 0}, headers=identity.member),
        422,
    )


async def test_a_user_is_linked_to_one_developer_announced_and_audited(
    identity: Identity,
) -> None:
    ada, bob = await identity.attribute(
        person("Ada Lovelace", "ada@example.org"), person("Bob Dobbs", "bob@example.org")
    )

    async def link(developer: object, user: str | None, headers: Any = None) -> Any:
        return await identity.client.put(
            f"/v1/developers/{developer}/user",
            json={"user_id": user},
            headers=headers or identity.admin,
        )

    first = await link(ada, "u-ada")
    assert first.status_code == 200, first.text
    assert first.json() == {"developer_id": str(ada), "user_id": "u-ada", "previous_user_id": None}
    assert (await link(ada, "u-ada")).status_code == 200  # unchanged: announces nothing
    moved = await link(bob, "u-ada")  # the user is Bob after all: Ada's link ends
    assert moved.json()["previous_user_id"] is None
    unlinked = await link(bob, None)
    assert unlinked.json() == {
        "developer_id": str(bob),
        "user_id": None,
        "previous_user_id": "u-ada",
    }

    announced = [
        (e.data["developer_id"], e.data["user_id"], e.data["previous_user_id"], e.subject)
        for e in await identity.events("sextant.identity.developer.user_linked.v1")
    ]
    assert sorted(announced, key=str) == sorted(
        [
            (str(ada), "u-ada", None, f"developer:{ada}"),
            (str(bob), "u-ada", None, f"developer:{bob}"),
            (str(bob), None, "u-ada", f"developer:{bob}"),
        ],
        key=str,
    )
    audited = [
        (a.data["action"], a.data["before"], a.data["after"])
        for a in await identity.events("sextant.config.changed.v1")
        if a.data["action"].startswith("identity.developer.user")
    ]
    assert sorted(audited, key=str) == sorted(
        [
            ("identity.developer.user.link", {"user_id": None}, {"user_id": "u-ada"}),
            ("identity.developer.user.link", {"user_id": None}, {"user_id": "u-ada"}),
            ("identity.developer.user.unlink", {"user_id": "u-ada"}, {"user_id": None}),
        ],
        key=str,
    )

    assert_problem(await link(ada, "u-x", identity.member), 403)
    assert_problem(await link(uuid7(), "u-x"), 404)
    assert_problem(await link(ada, "u-x", identity.as_role("tenant_admin", uuid7())), 404)
    assert_problem(await link(ada, ""), 422)
    missing = await identity.client.put(
        f"/v1/developers/{ada}/user", json={}, headers=identity.admin
    )
    assert_problem(missing, 422)
    await identity.client.post(
        "/v1/developers/merge",
        json={"survivor_id": str(ada), "merged_ids": [str(bob)]},
        headers=identity.admin,
    )
    assert_problem(await link(bob, "u-bob"), 409)  # merged away: link the survivor

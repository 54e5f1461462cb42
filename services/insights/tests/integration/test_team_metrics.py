"""The team scope through the real consumer, worked by hand: a developer who moves from team A
to team B counts for A before and B after, a merge moves memberships (and what a user may
see), a deleted team answers 410, and privacy by role (admin, manager, member, partner,
another tenant).

One tenant, week of Monday 2 March 2026 (UTC), commits pushed at 10:00 (authored 09:58 and
09:59 when two) unless said:

| day | Carol | Dave | Bob | the bot |
| --- | --- | --- | --- | --- |
| Mon 2 | 2 commits; #20 opened 10:30, merged 12:30 (2 h 32 min from 09:58) | | | 1 commit |
| Tue 3 | 1 commit | 1 commit (10:59 authored at 11:00); #21 opened 11:30, merged 15:00 (4 h 1 min) | | |
| Wed 4 | | 1 commit | 1 commit | |
| Thu 5 | 3 commits | | | |

Team A (Payments): Carol Mon-Tue, Dave from Mon, the bot from Mon. Team B (Search): Carol
from Wed, Bob from Mon.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import (
    DeveloperCreated,
    DevelopersMerged,
    DeveloperUserLinked,
    TeamCreated,
    TeamDeleted,
    TeamMembershipChanged,
)
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import Role

from .scenario import BOB, BOT, CAROL, DAVE, Tenant, hours
from .test_read_api import Running, inbox_count, publish, running, settled

__all__ = ["running"]  # the fixture, imported to be reused

MON = date(2026, 3, 2)
TEAM_A, TEAM_B, CAROL_IN_B = uuid7(), uuid7(), uuid7()
WEEK = {"since": "2026-03-02", "until": "2026-03-06", "granularity": "day"}
FLOW_WEEK = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-09T00:00:00Z"}


def joined(
    scenario: Tenant,
    team: UUID,
    who: UUID,
    starts: int,
    ends: int | None,
    membership: UUID | None = None,
    removed: bool = False,
) -> Envelope:
    event = TeamMembershipChanged(
        membership_id=membership or uuid7(),
        removed=removed,
        team_id=team,
        developer_id=who,
        starts_on=MON + timedelta(days=starts),
        ends_on=None if ends is None else MON + timedelta(days=ends),
    )
    return scenario.identity(event, f"team:{team}")


def linked(scenario: Tenant, who: UUID, user: str) -> Envelope:
    return scenario.identity(
        DeveloperUserLinked(developer_id=who, user_id=user), f"developer:{who}"
    )


def the_week(s: Tenant) -> list[Envelope]:
    return [
        s.identity(DeveloperCreated(developer_id=BOT, is_bot=True), f"developer:{BOT}"),
        s.identity(TeamCreated(team_id=TEAM_A, name="Payments"), f"team:{TEAM_A}"),
        s.identity(TeamCreated(team_id=TEAM_B, name="Search"), f"team:{TEAM_B}"),
        joined(s, TEAM_A, CAROL, 0, 1),
        joined(s, TEAM_B, CAROL, 2, None, CAROL_IN_B),
        joined(s, TEAM_A, DAVE, 0, None),
        joined(s, TEAM_A, BOT, 0, None),
        joined(s, TEAM_B, BOB, 0, None),
        linked(s, CAROL, "u-carol"),
        linked(s, DAVE, "u-dave"),
        s.pushed("feature/20", None, ["c1", "c2"], CAROL, hours(1)),
        s.opened(20, CAROL, "feature/20", hours(1.5)),
        s.merged(20, CAROL, "feature/20", hours(1.5), "C20", ["c1", "c2"], hours(3.5)),
        s.pushed("feature/bot", None, ["x1"], BOT, hours(1)),
        s.pushed("feature/c", "c2", ["c3"], CAROL, hours(25)),
        s.pushed("feature/21", None, ["d1"], DAVE, hours(26)),
        s.opened(21, DAVE, "feature/21", hours(26.5)),
        s.merged(21, DAVE, "feature/21", hours(26.5), "D21", ["d1"], hours(30)),
        s.pushed("feature/d", "d1", ["d2"], DAVE, hours(49)),
        s.pushed("feature/b", None, ["b1"], BOB, hours(49)),
        s.pushed("feature/c", "c3", ["c4", "c5", "c6"], CAROL, hours(73)),
    ]


async def feed(running: Running, scenario: Tenant, envelopes: list[Envelope]) -> None:
    before = await inbox_count(running.conn)
    await publish(running.state, scenario, envelopes)
    await settled(running.conn, before, len(envelopes))


@pytest.fixture
async def team_week(running: Running) -> AsyncIterator[tuple[Running, Tenant]]:
    scenario = Tenant(uuid7(), uuid7())
    await feed(running, scenario, the_week(scenario))
    yield running, scenario


async def test_a_mover_counts_for_each_team_on_its_days_and_a_merge_moves_memberships(
    team_week: tuple[Running, Tenant], internal_keys: InternalKeys
) -> None:
    running, scenario = team_week
    admin = token(internal_keys, "tenant_admin", scenario.tenant)

    async def metrics(team: UUID, **params: Any) -> dict[str, Any]:
        reply = await running.client.get(
            f"/v1/teams/{team}/metrics", params={**WEEK, **params}, headers=admin
        )
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    a = await metrics(TEAM_A)
    assert (a["team_name"], a["since"], a["until"]) == ("Payments", "2026-03-02", "2026-03-06")
    # Carol's Monday and Tuesday, Dave's Tuesday and Wednesday; Thursday is Carol's in B.
    assert [p["commits"] for p in a["periods"]] == [2, 2, 1, 0]
    assert [p["developers"] for p in a["periods"]] == [1, 2, 1, 0]
    total = a["total"]
    assert (total["commits"], total["developers"], total["developer_days"]) == (5, 2, 4)
    assert (total["changes_opened"], total["changes_merged"]) == (2, 2)
    # #20: 2 h 32 min = 2.533333 h, #21: 4 h 1 min = 4.016667 h; median their mean.
    assert (total["cycle_time_count"], total["cycle_time_p50_hours"]) == (2, 3.275)
    assert total["cycle_time_p85_hours"] == pytest.approx(2.533333 + 0.85 * 1.483334, abs=1e-6)
    assert total["wip"] == 0
    with_bots = await metrics(TEAM_A, include_bots="true")
    assert [p["commits"] for p in with_bots["periods"]] == [3, 2, 1, 0]

    b = await metrics(TEAM_B)
    assert [p["commits"] for p in b["periods"]] == [0, 0, 1, 3]  # Bob's Wednesday, Carol's Thursday
    weekly = await metrics(TEAM_B, granularity="week")
    assert [(p["period"], p["start"], p["end"], p["commits"]) for p in weekly["periods"]] == [
        ("week", "2026-03-02", "2026-03-06", 4)
    ]

    as_csv = await running.client.get(
        f"/v1/teams/{TEAM_A}/metrics", params=WEEK, headers={**admin, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["period"], r["start"], r["commits"]) for r in rows] == [
        ("total", "2026-03-02", "5"),
        ("day", "2026-03-02", "2"),
        ("day", "2026-03-03", "2"),
        ("day", "2026-03-04", "1"),
        ("day", "2026-03-05", "0"),
    ]

    # The flow metrics' team filter: a change counts for the team its author was in on the
    # day it merged (#20 Carol's Monday, #21 Dave's Tuesday: both A's).
    async def merged(team: UUID | None) -> int:
        params = {"scope": f"workspace:{scenario.workspace}", **FLOW_WEEK}
        if team is not None:
            params["team"] = str(team)
        reply = await running.client.get("/v1/metrics/flow", params=params, headers=admin)
        assert reply.status_code == 200, reply.text
        assert reply.json()["team"] == (None if team is None else str(team))
        count: int = reply.json()["total"]["change_requests"]["merged"]
        return count

    assert (await merged(None), await merged(TEAM_A), await merged(TEAM_B)) == (2, 2, 0)

    # Bob is merged into Dave: Bob's Wednesday commit is Dave's, and Bob's membership of B
    # (from Monday) reads as Dave's, so Dave's days count for B too.
    member_dave = token(internal_keys, "member", scenario.tenant, "u-dave")
    refused = await running.client.get(f"/v1/teams/{TEAM_B}/metrics", headers=member_dave)
    assert refused.status_code == 403  # Dave was never in B
    merge = DevelopersMerged(survivor_id=DAVE, merged_ids=[BOB], rule="manual")
    await feed(running, scenario, [scenario.identity(merge, f"developer:{DAVE}")])
    a = await metrics(TEAM_A)
    assert [p["commits"] for p in a["periods"]] == [2, 2, 2, 0]
    b = await metrics(TEAM_B)
    assert [p["commits"] for p in b["periods"]] == [0, 1, 2, 3]
    assert await merged(TEAM_B) == 1  # #21: Dave's Tuesday is B's now
    # Carol's membership of B is removed (identity announces removed=true): her Thursday goes.
    removal = joined(scenario, TEAM_B, CAROL, 2, None, CAROL_IN_B, removed=True)
    await feed(running, scenario, [removal])
    assert [p["commits"] for p in (await metrics(TEAM_B))["periods"]] == [0, 1, 2, 0]
    allowed = await running.client.get(
        f"/v1/teams/{TEAM_B}/metrics", params=WEEK, headers=member_dave
    )
    assert allowed.status_code == 200, allowed.text

    # A deleted team answers 410; an unknown one 404.
    await feed(
        running, scenario, [scenario.identity(TeamDeleted(team_id=TEAM_A), f"team:{TEAM_A}")]
    )
    gone = await running.client.get(f"/v1/teams/{TEAM_A}/metrics", headers=admin)
    assert gone.status_code == 410
    assert gone.headers["content-type"].startswith("application/problem+json")
    unknown = await running.client.get(f"/v1/teams/{uuid7()}/metrics", headers=admin)
    assert (unknown.status_code, unknown.json()["parameter"]) == (404, "team_id")
    flow = {"scope": f"workspace:{scenario.workspace}", "team": str(uuid7())}
    no_team = await running.client.get("/v1/metrics/review", params=flow, headers=admin)
    assert (no_team.status_code, no_team.json()["parameter"]) == (404, "team")
    flow["team"] = str(TEAM_A)
    deleted = await running.client.get("/v1/metrics/flow", params=flow, headers=admin)
    assert (deleted.status_code, deleted.json()["parameter"]) == (410, "team")


async def test_privacy_by_role(
    team_week: tuple[Running, Tenant], internal_keys: InternalKeys
) -> None:
    running, scenario = team_week
    client, tenant = running.client, scenario.tenant

    async def status(url: str, role: Role, user: str, in_tenant: UUID = tenant) -> int:
        headers = token(internal_keys, role, in_tenant, user)
        reply = await client.get(url, params={"until": "2026-03-09"}, headers=headers)
        if reply.status_code != 200:
            assert reply.headers["content-type"].startswith("application/problem+json")
        return reply.status_code

    carol, dave, bob = (f"/v1/developers/{d}/trends" for d in (CAROL, DAVE, BOB))
    team_a, team_b = (f"/v1/teams/{t}/metrics" for t in (TEAM_A, TEAM_B))
    # A member: their own history and their teams (Carol was in both), no one else's.
    assert await status(carol, "member", "u-carol") == 200
    assert await status(dave, "member", "u-carol") == 403
    assert await status(team_a, "member", "u-carol") == 200
    assert await status(team_b, "member", "u-carol") == 200
    assert await status(team_b, "member", "u-dave") == 403
    # A manager: their teams and the developers ever in them (Dave and Carol share A; Bob
    # was only ever in B).
    assert await status(carol, "manager", "u-dave") == 200
    assert await status(bob, "manager", "u-dave") == 403
    assert await status(team_a, "manager", "u-dave") == 200
    assert await status(team_b, "manager", "u-dave") == 403
    # Nobody linked, a partner: nothing; a tenant admin: everything.
    reply = await client.get(carol, headers=token(internal_keys, "member", tenant, "u-x"))
    assert reply.status_code == 403
    assert "no developer is linked to your user" in reply.json()["detail"]
    assert await status(team_a, "manager", "u-x") == 403
    assert await status(team_a, "partner", "u-carol") == 403
    assert await status(bob, "tenant_admin", "admin") == 200
    assert await status(team_b, "tenant_admin", "admin") == 200
    # Another tenant, even with the same user id: no such team or developer there.
    elsewhere = uuid7()
    assert await status(team_a, "member", "u-carol", elsewhere) == 404
    # who may look is asked before whether the developer exists: unlinked there, a 403
    # that says nothing about Carol
    assert await status(carol, "member", "u-carol", elsewhere) == 403
    assert await status(carol, "tenant_admin", "admin", elsewhere) == 404
    assert await status(team_a, "tenant_admin", "admin", elsewhere) == 404

    # The admin relinks u-carol to Dave (Dave's link to u-dave ends), then unlinks her.
    relinked = DeveloperUserLinked(developer_id=DAVE, user_id="u-carol", previous_user_id="u-dave")
    await feed(running, scenario, [scenario.identity(relinked, f"developer:{DAVE}")])
    assert (await status(dave, "member", "u-carol"), await status(carol, "member", "u-carol")) == (
        200,
        403,
    )
    assert await status(dave, "member", "u-dave") == 403
    unlinked = DeveloperUserLinked(developer_id=DAVE, user_id=None, previous_user_id="u-carol")
    await feed(running, scenario, [scenario.identity(unlinked, f"developer:{DAVE}")])
    assert await status(dave, "member", "u-carol") == 403


def token(keys: InternalKeys, role: Role, tenant: UUID, user: str = "admin") -> dict[str, str]:
    minted = keys.signer.mint(service="insights", subject=user, role=role, tenant_id=tenant)
    return {"Authorization": f"Bearer {minted}"}

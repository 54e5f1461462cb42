"""The team-health detectors, each on a small team worked by hand, and properties that hold
for any team (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights.domain.trends import Week
from sextant.insights.health.detectors import (
    Change,
    Review,
    TeamActivity,
    WorkItem,
    assigned_while_stale,
    detect,
    finding_id,
    flow_regression,
    gini,
    knowledge_silo,
    pairing,
    redistribution,
    review_wait,
    reviewer_load,
    wip_norm,
    wip_overload,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
A, B, C, D, E = (UUID(int=i) for i in range(1, 6))
TEAM = (A, B, C, D, E)


def uid(n: int) -> UUID:
    return UUID(int=1000 + n)


def hours_ago(h: float) -> datetime:
    return NOW - timedelta(hours=h)


def reviewed(n: int, author: UUID, wait_h: float, area: str = "api") -> Change:
    opened = hours_ago(100 + wait_h)
    return Change(uid(n), author, area, opened, first_review_at=opened + timedelta(hours=wait_h))


def test_gini() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    # [0, 0, 0, 12]: 2*(4*12)/(4*12) - 5/4 = 0.75
    assert gini([0, 0, 0, 12]) == 0.75
    assert gini([]) == 0.0


def test_wip_norm_is_median_plus_three_scaled_mads_with_a_floor() -> None:
    # [1, 2, 2, 3, 9]: median 2, |dev| = [1, 0, 0, 1, 7] → MAD 1; 2 + 3 * 1.4826 = 6.4478
    mid, mad, threshold = wip_norm([1, 2, 2, 3, 9])
    assert (mid, mad) == (2, 1)
    assert round(threshold, 4) == 6.4478
    # every WIP equal: MAD 0, the floor of one item → 2 + 3 = 5
    assert wip_norm([2, 2, 2, 2]) == (2, 0, 5.0)


def test_review_wait_flags_open_changes_past_the_team_p85() -> None:
    done = [reviewed(i, B, wait) for i, wait in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    # P85 of 1..10 h, between the closest ranks: position 9 * 0.85 = 7.65 → 8 + 0.65 =
    # 8.65 h: open 8 h is fine, open 12 h medium, open 20 h (> 2 * 8.65) high
    fine = Change(uid(50), A, "api", hours_ago(8))
    late = Change(uid(51), A, "api", hours_ago(12))
    later = Change(uid(52), C, "web", hours_ago(20))
    merged = Change(uid(53), C, "web", hours_ago(30), merged_at=hours_ago(1))
    team = TeamActivity(NOW, TEAM, changes=[*done, fine, late, later, merged])
    found = review_wait(team)
    assert [(f.change_ids, f.severity, f.people) for f in found] == [
        ((uid(51),), "medium", (A,)),
        ((uid(52),), "high", (C,)),
    ]
    assert found[0].evidence == {"wait_hours": 12.0, "team_p85_hours": 8.65}


def test_review_wait_needs_enough_history() -> None:
    done = [reviewed(i, B, 1) for i in range(4)]
    team = TeamActivity(NOW, TEAM, changes=[*done, Change(uid(9), A, "api", hours_ago(99))])
    assert review_wait(team) == []


def reviews(counts: dict[UUID, int]) -> list[Review]:
    out = []
    n = 0
    for who, k in counts.items():
        for _ in range(k):
            out.append(Review(uid(n), who, hours_ago(24)))
            n += 1
    return out


def test_reviewer_load_by_top_share_against_the_fair_share() -> None:
    # 20 reviews over 5 members: fair share 0.2, A has 12 → 0.6 ≥ 0.4 (and ≥ 3 * 0.2: high)
    team = TeamActivity(NOW, TEAM, reviews=reviews({A: 12, B: 2, C: 2, D: 2, E: 2}))
    (found,) = reviewer_load(team)
    assert found.people == (A,)
    assert found.severity == "high"
    # Gini of [2, 2, 2, 2, 12]: 2*(2+4+6+8+60)/(5*20) - 6/5 = 1.6 - 1.2 = 0.4
    assert found.evidence == {
        "top_share": 0.6,
        "fair_share": 0.2,
        "gini": 0.4,
        # sum over i = 12..20 of C(20, i) 0.2^i 0.8^(20-i), well under 0.05 / 5
        "chance_p": 0.000102,
        "reviews": 20,
        "reviewers": 5,
    }
    assert len(found.change_ids) == 12


def test_reviewer_load_quiet_when_shared() -> None:
    # top share 7/20 = 0.35 < 0.4
    team = TeamActivity(NOW, TEAM, reviews=reviews({A: 7, B: 4, C: 3, D: 3, E: 3}))
    assert reviewer_load(team) == []


def test_reviewer_load_quiet_when_the_share_may_be_luck() -> None:
    # 5 of 12 = 0.417 >= 0.4, but P(X >= 5 | 12, 0.2) = 0.0726 is not below 0.05 / 5
    team = TeamActivity(NOW, TEAM, reviews=reviews({A: 5, B: 2, C: 2, D: 2, E: 1}))
    assert reviewer_load(team) == []


def item(
    n: int,
    who: UUID | None,
    status: str = "in_progress",
    area: str | None = None,
    assigned_h: float = 200,
    stale_h: float | None = None,
) -> WorkItem:
    return WorkItem(
        uid(n),
        f"K-{n}",
        who,
        status,  # type: ignore[arg-type]
        hours_ago(assigned_h),
        area,
        None if stale_h is None else hours_ago(stale_h),
    )


def wip_items(counts: dict[UUID, int]) -> list[WorkItem]:
    out = []
    n = 0
    for who, k in counts.items():
        for _ in range(k):
            out.append(item(n, who))
            n += 1
    return out


def test_wip_overload_above_median_plus_three_mads() -> None:
    # WIP [2, 2, 3, 1, 9]: median 2, MAD 1, threshold 6.4478: E (9) flagged, medium (≤ 12.9)
    team = TeamActivity(NOW, TEAM, items=wip_items({A: 2, B: 2, C: 3, D: 1, E: 9}))
    (found,) = wip_overload(team)
    assert found.people == (E,)
    assert found.severity == "medium"
    assert found.evidence == {"wip": 9, "team_median": 2, "team_mad": 1, "threshold": 6.45}
    assert len(found.item_ids) == 9


def test_wip_overload_quiet_for_a_difference_of_a_few() -> None:
    team = TeamActivity(NOW, TEAM, items=wip_items({A: 2, B: 2, C: 2, D: 2, E: 4}))
    assert wip_overload(team) == []


def test_assigned_while_stale() -> None:
    items = [
        item(1, A, stale_h=100),  # stale since 100 h ago
        item(2, A, status="queued", assigned_h=50),  # assigned after: counts
        item(3, A, status="queued", assigned_h=150),  # before the flag: does not
        item(4, B, stale_h=100),  # stale, but nothing new for B
        item(5, C, status="queued", assigned_h=10),  # new, nothing stale
    ]
    (found,) = assigned_while_stale(TeamActivity(NOW, TEAM, items=items))
    assert found.people == (A,)
    assert found.evidence == {"stale_items": 1, "assigned_since_stale": 1}
    assert found.item_ids == (uid(1), uid(2))
    assert found.severity == "medium"


def authored(start: int, author: UUID, area: str, k: int, days_ago: int = 30) -> list[Change]:
    return [
        Change(
            uid(start + i),
            author,
            area,
            NOW - timedelta(days=days_ago),
            merged_at=NOW - timedelta(days=days_ago - 1),
        )
        for i in range(k)
    ]


def test_knowledge_silo_one_author_with_most_of_the_year() -> None:
    changes = [
        *authored(0, A, "billing", 9),
        *authored(20, B, "billing", 1),  # A: 9/10 = 0.9 ≥ 0.8
        *authored(40, A, "web", 7),
        *authored(60, B, "web", 3),  # A: 0.7: no
        *authored(80, C, "docs", 8),  # 8 changes < 10: too few to say
        *authored(100, D, "old", 12, days_ago=400),  # outside the year
    ]
    (found,) = knowledge_silo(TeamActivity(NOW, TEAM, changes=changes))
    assert (found.area, found.people, found.severity) == ("billing", (A,), "medium")
    assert found.evidence == {"author_share": 0.9, "changes": 10}


def test_pairing_someone_stuck_where_a_teammate_knows_the_area() -> None:
    # merged cycle times 20, 30, 40, 50, 60 h and A's six of 24 h: P85 of the 11 at
    # position 10 * 0.85 = 8.5, between 40 and 50 = 45 h; C's change open 80 h in
    # "billing", where A has 6 changes
    merged = [
        Change(uid(i), B, "web", hours_ago(10 * i + 10), merged_at=hours_ago(0))
        for i in range(1, 6)
    ]
    history = authored(20, A, "billing", 6)
    stuck = Change(uid(90), C, "billing", hours_ago(80))
    fresh = Change(uid(91), C, "billing", hours_ago(20))
    team = TeamActivity(NOW, TEAM, changes=[*merged, *history, stuck, fresh])
    (found,) = pairing(team)
    assert found.people == (C, A)
    assert found.change_ids == (uid(90),)
    assert found.evidence["author_changes_in_area"] == 2  # the stuck and the fresh one
    assert found.evidence["expert_changes_in_area"] == 6
    assert found.evidence["team_p85_cycle_hours"] == 45.0


def test_redistribution_to_a_teammate_with_capacity_and_history() -> None:
    items = [
        *wip_items({A: 2, B: 2, C: 3, D: 1, E: 9}),
        item(70, E, status="queued", area="billing"),
        item(71, E, status="queued", area="nowhere"),  # nobody has history there
    ]
    changes = [*authored(0, C, "billing", 5), *authored(10, D, "billing", 2)]
    # C has more history but WIP 3 > median 2; D (WIP 1, 2 changes) can take it
    (found,) = redistribution(TeamActivity(NOW, TEAM, changes=changes, items=items))
    assert found.people == (E, D)
    assert found.item_ids == (uid(70),)
    assert found.evidence == {
        "from_wip": 9,
        "to_wip": 1,
        "team_median_wip": 2,
        "to_changes_in_area": 2,
    }


def week(start: date, merged: int) -> Week:
    return Week(start, 5, merged, merged, merged, merged, None, None, None)


def test_flow_regression_from_the_trends_test() -> None:
    start = date(2025, 6, 2)
    weeks = [week(start + timedelta(weeks=i), 10 + i % 3) for i in range(20)]
    weeks += [week(start + timedelta(weeks=20 + i), 2) for i in range(4)]
    found = flow_regression(TeamActivity(NOW, TEAM, weeks=weeks))
    metrics = {f.detail["metric"] for f in found}
    # everything "more is better" dropped: commits, opened, merged, reviews given
    assert metrics == {"commits", "changes_opened", "changes_merged", "reviews_given"}
    assert all(f.evidence["recent_median"] == 2 for f in found)
    steady = [week(start + timedelta(weeks=i), 10 + i % 3) for i in range(24)]
    assert flow_regression(TeamActivity(NOW, TEAM, weeks=steady)) == []


def test_finding_ids_are_stable_and_kind_prefixed() -> None:
    assert finding_id("knowledge_silo", "billing") == finding_id("knowledge_silo", "billing")
    assert finding_id("knowledge_silo", "billing").startswith("knowledge_silo-")
    assert finding_id("knowledge_silo", "billing") != finding_id("knowledge_silo", "web")


people = st.sampled_from(TEAM)
changes_st = st.lists(
    st.builds(
        lambda n, who, area, opened, wait, merged: Change(
            uid(n),
            who,
            area,
            hours_ago(opened),
            first_review_at=None if wait is None else hours_ago(opened) + timedelta(hours=wait),
            merged_at=None if merged is None else hours_ago(max(0.0, opened - merged)),
        ),
        st.integers(0, 10_000),
        people,
        st.sampled_from(["api", "web", "billing"]),
        st.floats(1, 3000),
        st.none() | st.floats(0, 200),
        st.none() | st.floats(0, 200),
    ),
    max_size=40,
    unique_by=lambda c: c.id,
)
items_st = st.lists(
    st.builds(
        lambda n, who, status, area, assigned, stale: item(n, who, status, area, assigned, stale),
        st.integers(0, 10_000),
        people,
        st.sampled_from(["queued", "in_progress", "done"]),
        st.none() | st.sampled_from(["api", "web"]),
        st.floats(1, 500),
        st.none() | st.floats(1, 500),
    ),
    max_size=40,
    unique_by=lambda i: i.id,
)
reviews_st = st.lists(
    st.builds(
        lambda n, who, h: Review(uid(n), who, hours_ago(h)),
        st.integers(0, 99),
        people,
        st.floats(0, 3000),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(changes_st, items_st, reviews_st)
def test_any_team_findings_are_grounded_in_its_activity(
    changes: list[Change], items: list[WorkItem], revs: list[Review]
) -> None:
    team = TeamActivity(NOW, TEAM, changes=changes, reviews=revs, items=items)
    found = detect(team)
    change_ids = {c.id for c in changes} | {r.change_id for r in revs}
    item_ids = {i.id for i in items}
    for f in found:
        assert set(f.people) <= set(TEAM)
        assert set(f.change_ids) <= change_ids
        assert set(f.item_ids) <= item_ids
        assert f.severity in ("low", "medium", "high")
        assert all(isinstance(v, int | float) for v in f.evidence.values())
    assert len({f.id for f in found}) == len(found)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=3, max_size=12))
def test_wip_norm_flags_at_most_a_minority(wips: list[int]) -> None:
    _, _, threshold = wip_norm(wips)
    # above median + 3 MAD (floored) can never be half the team or more
    assert sum(1 for w in wips if w > threshold) < len(wips) / 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=12))
def test_gini_between_zero_and_one_and_unchanged_by_order(counts: list[int]) -> None:
    g = gini(counts)
    assert 0 <= g < 1
    assert g == gini(list(reversed(counts)))


def test_team_weeks_bucket_changes_and_reviews() -> None:
    from sextant.insights.health.detectors import team_weeks

    # NOW is Monday 1 June 2026 12:00; the last week is 25-31 May
    opened = datetime(2026, 5, 26, 10, tzinfo=UTC)
    c = Change(
        uid(1),
        A,
        "api",
        opened,
        first_review_at=opened + timedelta(hours=4),
        merged_at=opened + timedelta(hours=10),
    )
    r = Review(uid(1), B, opened + timedelta(hours=4))
    weeks = team_weeks([c], [r], NOW)
    assert len(weeks) == 56
    last = weeks[-1]
    assert last.start == date(2026, 5, 25)
    assert (last.changes_opened, last.changes_merged, last.reviews_given) == (1, 1, 1)
    assert (last.review_latency_hours, last.cycle_time_p50_hours) == (4.0, 10.0)
    assert weeks[-2].active_days == 0


def test_a_team_run_sees_its_members_changes_reviews_and_items_only() -> None:
    from sextant.insights.health.service import team_activity

    changes = [*authored(0, A, "billing", 9), *authored(20, B, "billing", 1)]
    reviews = [Review(uid(0), C, hours_ago(50)), Review(uid(20), A, hours_ago(40))]
    items = [
        WorkItem(uid(300), "K-1", A, "in_progress", hours_ago(10)),
        WorkItem(uid(301), "K-2", C, "queued", hours_ago(10)),
        WorkItem(uid(302), "K-3", None, "queued", hours_ago(10)),
    ]
    whole = team_activity(NOW, changes, reviews, items, None)
    assert set(whole.members) == {A, B, C}  # everyone active in the workspace
    assert (len(whole.changes), len(whole.reviews), len(whole.items)) == (10, 2, 3)

    team = team_activity(NOW, changes, reviews, items, {A, D})  # D: a member, idle
    assert set(team.members) == {A, D}
    assert [c.author for c in team.changes] == [A] * 9
    assert [r.reviewer for r in team.reviews] == [A]
    assert [i.key for i in team.items] == ["K-1"]
    # Within the team A's 9 billing changes are too few to judge (10 needed); the
    # workspace's 10, 9 of them A's, make a silo.
    assert list(knowledge_silo(team)) == []
    (silo,) = knowledge_silo(whole)
    assert silo.people == (A,)

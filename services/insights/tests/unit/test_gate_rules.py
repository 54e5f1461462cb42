"""The gate rules on facts worked by hand (expected values derived in the comments, never
by calling the code), and their invariants as properties."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sextant.insights.domain import dora
from sextant.insights.gates.rules import (
    Build,
    Change,
    DatedFreeze,
    Incident,
    Outcome,
    Review,
    RuleResult,
    WeeklyFreeze,
    builds_rule,
    delivery_budget_rule,
    enforce,
    freeze_rule,
    in_freeze,
    incidents_rule,
    reviews_rule,
    severity_rank,
    size_rule,
    verdict,
    work_item_rule,
)
from sextant.insights.gates.schemas import WorkItemRule

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
ALICE, BOB, CAROL, BOT = (UUID(f"0190f5c2-dddd-7000-8000-00000000000{i}") for i in range(4))
CHANGE_ID = UUID("0190f5c2-cccc-7000-8000-000000000001")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def review(rid: str, who: UUID | None, state: str, hours: float, bot: bool = False) -> Review:
    return Review(rid, who, bot, state, at(hours))


def change(*reviews: Review, title: str = "Fix checkout", head: str = "fix-checkout") -> Change:
    return Change(CHANGE_ID, ALICE, title, head, tuple(reviews))


# reviews --------------------------------------------------------------------------------


def test_self_approval_and_bots_are_not_counted() -> None:
    # Alice (the author) approves herself, a bot approves, Bob approves: one counts.
    result = reviews_rule(
        change(
            review("r1", ALICE, "approved", 1),
            review("r2", BOT, "approved", 2, bot=True),
            review("r3", BOB, "approved", 3),
        ),
        minimum=2,
    )
    assert result == RuleResult(
        "reviews",
        Outcome.FAIL,
        "1 approving review(s) of the 2 required (the author's own approval is not counted)",
        ("review:r3",),
    )


def test_a_later_request_for_changes_withdraws_an_approval_a_comment_does_not() -> None:
    withdrawn = change(review("r1", BOB, "approved", 1), review("r2", BOB, "changes_requested", 2))
    assert reviews_rule(withdrawn, 1).outcome is Outcome.FAIL
    commented = change(review("r1", BOB, "approved", 1), review("r2", BOB, "commented", 2))
    assert reviews_rule(commented, 1) == RuleResult(
        "reviews", Outcome.PASS, "1 approving review(s) of the 1 required", ("review:r1",)
    )
    regained = change(
        review("r1", BOB, "changes_requested", 1),
        review("r2", BOB, "approved", 2),
        review("r3", CAROL, "approved", 3),
    )
    assert reviews_rule(regained, 2).facts == ("review:r2", "review:r3")


def test_without_a_change_request_reviews_and_links_are_unknown_not_pass() -> None:
    assert reviews_rule(None, 1).outcome is Outcome.UNKNOWN
    assert work_item_rule(None).outcome is Outcome.UNKNOWN
    assert size_rule(None, 400).outcome is Outcome.UNKNOWN


# work items -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "head", "outcome", "facts"),
    [
        ("PROJ-12: fix checkout", "fix", Outcome.PASS, ("work_item:PROJ-12",)),
        ("Fix checkout", "feature/ABC-3-retry", Outcome.PASS, ("work_item:ABC-3",)),
        ("ABC-3 and PROJ-1", "PROJ-1", Outcome.PASS, ("work_item:ABC-3", "work_item:PROJ-1")),
        ("proj-12 lower case", "fix", Outcome.FAIL, (f"change_request:{CHANGE_ID}",)),
        ("Fix checkout", "fix-12", Outcome.FAIL, (f"change_request:{CHANGE_ID}",)),
    ],
)
def test_a_work_item_key_in_the_title_or_head_branch_links_the_change(
    title: str, head: str, outcome: Outcome, facts: tuple[str, ...]
) -> None:
    result = work_item_rule(change(title=title, head=head))
    assert (result.outcome, result.facts) == (outcome, facts)


def test_a_policy_pattern_can_name_github_issues() -> None:
    result = work_item_rule(change(title="Fixes #42"), r"#[0-9]+")
    assert (result.outcome, result.facts) == (Outcome.PASS, ("work_item:#42",))


# builds ---------------------------------------------------------------------------------

B1, B2, B3 = (UUID(f"0190f5c2-bbbb-7000-8000-00000000000{i}") for i in range(1, 4))


def test_the_latest_run_of_each_build_decides() -> None:
    # ci failed, then was rerun green; lint green: both names green.
    rerun = [Build(B1, "ci", "failed", at(1)), Build(B2, "ci", "success", at(2))]
    rerun.append(Build(B3, "lint", "success", at(1)))
    assert builds_rule(rerun) == RuleResult(
        "builds", Outcome.PASS, "2 build(s) green", (f"build:{B2}", f"build:{B3}")
    )
    broken = [Build(B1, "ci", "success", at(1)), Build(B2, "ci", "failed", at(2))]
    assert builds_rule(broken) == RuleResult("builds", Outcome.FAIL, "ci failed", (f"build:{B2}",))
    assert builds_rule([]).outcome is Outcome.UNKNOWN


# size -----------------------------------------------------------------------------------


def test_a_large_change_warns_and_never_fails() -> None:
    big = Change(CHANGE_ID, ALICE, "t", "h", (), lines_changed=401)
    assert size_rule(big, 400).outcome is Outcome.WARN
    assert size_rule(Change(CHANGE_ID, ALICE, "t", "h", (), 400), 400).outcome is Outcome.PASS


# incidents ------------------------------------------------------------------------------

I1, I2 = (UUID(f"0190f5c2-eeee-7000-8000-00000000000{i}") for i in range(1, 3))


@pytest.mark.parametrize(
    ("severity", "rank"),
    [("SEV0", 0), ("SEV1", 1), ("sev 2", 2), ("P3", 3), ("critical", 1), ("High", 2), ("x", None)],
)
def test_severities_read_as_ranks(severity: str, rank: int | None) -> None:
    assert severity_rank(severity) == rank


def test_an_open_incident_as_severe_as_the_policy_on_the_service_fails() -> None:
    now = at(5)
    sev1_open = Incident(I1, "api", "SEV1", at(1), None)
    result = incidents_rule([sev1_open], "octo-org/api", "SEV2", now)
    assert (result.outcome, result.facts) == (Outcome.FAIL, (f"incident:{I1}",))
    # resolved before now, milder, another service, or not yet opened: none blocks
    others = [
        Incident(I1, "api", "SEV1", at(1), at(4)),
        Incident(I2, "api", "SEV3", at(1), None),
        Incident(I1, "web", "SEV1", at(1), None),
        Incident(I2, "octo-org/api", "SEV1", at(6), None),
    ]
    assert incidents_rule(others, "octo-org/api", "SEV2", now) == RuleResult(
        "incidents", Outcome.PASS, "no open incident of SEV2 or worse"
    )
    unread = incidents_rule([Incident(I2, "api", "???", at(1), None)], "octo-org/api", "SEV2", now)
    assert unread.outcome is Outcome.WARN


# the delivery budget --------------------------------------------------------------------


def test_a_change_failure_rate_over_budget_fails_naming_the_failed_deployment() -> None:
    # four production deployments of api in the 28 days to now; an incident opens an hour
    # after D2: D2 failed, 1/4 = 25 % > 15 %.
    now = datetime(2026, 3, 29, tzinfo=UTC)
    since = now - timedelta(days=28)
    ids = [UUID(f"0190f5c2-dddd-7000-8000-0000000001{i:02d}") for i in range(4)]
    deployed = [dora.Deployment(ids[i], "api", since + timedelta(days=2 + 7 * i)) for i in range(4)]
    incident = dora.Incident(I1, "api", deployed[1].succeeded_at + timedelta(hours=1), None)
    result = delivery_budget_rule(dora.DORA_2024, deployed, [incident], since, now, 0.15, None)
    assert result == RuleResult(
        "delivery_budget",
        Outcome.FAIL,
        "dora-2024: change failure rate 25% over 15%",
        (f"deployment:{ids[1]}",),
    )
    assert (
        delivery_budget_rule(dora.DORA_2024, deployed, [incident], since, now, 0.25, None).outcome
        is Outcome.PASS
    )
    # recovery: D2 → resolved 3 h later is the median of one; over a 2 h budget
    resolved = dora.Incident(
        I1, "api", incident.opened_at, deployed[1].succeeded_at + timedelta(hours=3)
    )
    slow = delivery_budget_rule(dora.DORA_2024, deployed, [resolved], since, now, None, 2)
    assert (slow.outcome, slow.reason) == (
        Outcome.FAIL,
        "dora-2024: median recovery 3.0 h over 2 h",
    )


def test_no_deployment_in_the_window_is_unknown() -> None:
    now = datetime(2026, 3, 29, tzinfo=UTC)
    result = delivery_budget_rule(dora.DORA_2024, [], [], now - timedelta(days=28), now, 0.15, None)
    assert result.outcome is Outcome.UNKNOWN


# freeze windows ---------------------------------------------------------------------------


def test_a_dated_freeze_is_read_on_its_zones_wall_clock() -> None:
    wall_clock = (datetime(2026, 12, 24), datetime(2026, 12, 27))  # noqa: DTZ001 (local)
    holidays = DatedFreeze("holidays", "America/New_York", *wall_clock)
    # 04:30 UTC on the 24th is 23:30 on the 23rd in New York (UTC-5): not yet
    assert not in_freeze(holidays, datetime(2026, 12, 24, 4, 30, tzinfo=UTC))
    assert in_freeze(holidays, datetime(2026, 12, 24, 5, 30, tzinfo=UTC))
    assert not in_freeze(holidays, datetime(2026, 12, 27, 5, 0, tzinfo=UTC))


def test_a_weekly_freeze_follows_daylight_saving_time() -> None:
    # Sundays 10:00-12:00 in Paris; on 29 March 2026 Paris moves from UTC+1 to UTC+2
    sunday = WeeklyFreeze("sunday", "Europe/Paris", frozenset({6}), time(10), time(12))
    assert in_freeze(sunday, datetime(2026, 3, 29, 8, 30, tzinfo=UTC))  # 10:30 CEST
    assert not in_freeze(sunday, datetime(2026, 3, 29, 10, 30, tzinfo=UTC))  # 12:30 CEST
    assert in_freeze(sunday, datetime(2026, 3, 22, 10, 30, tzinfo=UTC))  # 11:30 CET
    assert not in_freeze(sunday, datetime(2026, 3, 28, 9, 30, tzinfo=UTC))  # a Saturday


def test_a_weekly_freeze_past_midnight_runs_into_the_next_day() -> None:
    # Fridays 18:00 → Saturday 06:00 UTC; 6 March 2026 is a Friday
    friday_night = WeeklyFreeze("release night", "UTC", frozenset({4}), time(18), time(6))
    assert in_freeze(friday_night, datetime(2026, 3, 6, 19, tzinfo=UTC))
    assert in_freeze(friday_night, datetime(2026, 3, 7, 5, 59, tzinfo=UTC))
    assert not in_freeze(friday_night, datetime(2026, 3, 7, 6, tzinfo=UTC))
    assert not in_freeze(friday_night, datetime(2026, 3, 6, 5, tzinfo=UTC))
    result = freeze_rule([friday_night], datetime(2026, 3, 6, 19, tzinfo=UTC))
    assert result == RuleResult(
        "freeze", Outcome.FAIL, "in freeze: release night (UTC)", ("freeze:release night",)
    )


# the verdict ------------------------------------------------------------------------------


def result(outcome: Outcome) -> RuleResult:
    return RuleResult("r", outcome, "why")


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([(Outcome.PASS, True), (Outcome.FAIL, True)], Outcome.FAIL),
        ([(Outcome.UNKNOWN, True), (Outcome.WARN, False)], Outcome.UNKNOWN),
        ([(Outcome.UNKNOWN, False), (Outcome.PASS, True)], Outcome.WARN),
        ([(Outcome.PASS, True), (Outcome.PASS, False)], Outcome.PASS),
        ([], Outcome.PASS),
    ],
)
def test_the_verdict(outcomes: list[tuple[Outcome, bool]], expected: Outcome) -> None:
    assert verdict([(result(o), b) for o, b in outcomes]) is expected


def test_an_advisory_rule_fails_as_a_warning() -> None:
    assert enforce(result(Outcome.FAIL), blocking=False).outcome is Outcome.WARN
    assert enforce(result(Outcome.FAIL), blocking=True).outcome is Outcome.FAIL


# properties -------------------------------------------------------------------------------

people = st.sampled_from([ALICE, BOB, CAROL, BOT, None])
states = st.sampled_from(["approved", "changes_requested", "commented"])
reviews = st.lists(
    st.builds(
        review,
        st.text("abc123", min_size=1, max_size=4),
        people,
        states,
        st.integers(0, 48),
        st.booleans(),
    ),
    max_size=8,
)


@given(reviews, st.integers(1, 3))
def test_self_and_bot_approvals_never_change_the_reviews_outcome(
    found: list[Review], minimum: int
) -> None:
    before = reviews_rule(change(*found), minimum)
    padded = [
        *found,
        review("self", ALICE, "approved", 49),
        review("bot", BOB, "approved", 49, bot=True),
    ]
    assert reviews_rule(change(*padded), minimum).outcome is before.outcome


@given(reviews, st.integers(1, 3))
def test_a_new_persons_approval_never_turns_a_pass_into_a_fail(
    found: list[Review], minimum: int
) -> None:
    newcomer = UUID("0190f5c2-dddd-7000-8000-0000000000ff")
    before = reviews_rule(change(*found), minimum)
    after = reviews_rule(change(*found, review("new", newcomer, "approved", 50)), minimum)
    assert len(after.facts) == len(before.facts) + 1
    if before.outcome is Outcome.PASS:
        assert after.outcome is Outcome.PASS


@given(st.permutations([(result(o), b) for o in Outcome for b in (True, False)]))
def test_the_verdict_is_fail_whenever_any_rule_fails_in_any_order(
    results: list[tuple[RuleResult, bool]],
) -> None:
    assert verdict(results) is Outcome.FAIL
    without_fail = [(r, b) for r, b in results if r.outcome is not Outcome.FAIL]
    assert verdict(without_fail) is Outcome.UNKNOWN


@given(
    st.lists(
        st.tuples(st.sampled_from(list(Outcome)), st.booleans()).map(
            lambda ob: (enforce(result(ob[0]), ob[1]), ob[1])
        ),
        max_size=7,
    )
)
def test_pass_only_when_every_rule_passes(results: list[tuple[RuleResult, bool]]) -> None:
    everything_passes = all(r.outcome is Outcome.PASS for r, _ in results)
    assert (verdict(results) is Outcome.PASS) == everything_passes


builds = st.lists(
    st.builds(
        Build,
        st.uuids(),
        st.sampled_from(["ci", "lint"]),
        st.sampled_from(["success", "failed", "cancelled"]),
        st.integers(0, 10).map(at),
    ),
    max_size=6,
    unique_by=lambda b: b.finished_at,
)


@given(st.data(), builds)
def test_builds_answer_the_same_in_any_arrival_order(
    data: st.DataObject, found: list[Build]
) -> None:
    shuffled = data.draw(st.permutations(found))
    assert builds_rule(shuffled) == builds_rule(found)


moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
zones = st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"])
EVERY_DAY = frozenset(range(7))


@given(moments, st.times(), st.times(), zones)
def test_a_day_split_at_two_times_is_frozen_in_exactly_one_part(
    now: datetime, first: time, second: time, zone: str
) -> None:
    if first == second:
        return
    starts, ends = min(first, second), max(first, second)
    daytime = WeeklyFreeze("day", zone, EVERY_DAY, starts, ends)
    overnight = WeeklyFreeze("night", zone, EVERY_DAY, ends, starts)  # runs past midnight
    assert in_freeze(daytime, now) != in_freeze(overnight, now)


@given(moments, st.frozensets(st.integers(0, 6), min_size=1), st.times(), st.times(), zones, zones)
def test_a_freeze_answers_for_the_instant_whatever_zone_it_is_given_in(
    now: datetime, days: frozenset[int], starts: time, ends: time, zone: str, given_in: str
) -> None:
    window = WeeklyFreeze("w", zone, days, starts, ends)
    assert in_freeze(window, now) == in_freeze(window, now.astimezone(ZoneInfo(given_in)))


def test_a_pattern_that_backtracks_for_ever_in_python_is_matched_in_linear_time() -> None:
    # (a+)+$ against 64 a's and a b takes ~2^64 steps in Python's re: with RE2 it answers.
    result = work_item_rule(change(title="a" * 64 + "b", head="a" * 64 + "b"), r"(a+)+$")
    assert result.outcome == Outcome.FAIL


def test_a_pattern_re2_cannot_match_in_linear_time_is_refused_naming_why() -> None:
    with pytest.raises(ValidationError, match=r"RE2 regular expression.*invalid escape"):
        WorkItemRule(pattern=r"(PROJ)-\1")

"""Flow and review figures of a week worked by hand; every expected number is derived in the
comments, never by calling the code. The week: Monday 2 March 2026 00:00 UTC to Monday
9 March. P85 of n sorted values sits at rank (n - 1) * 0.85 between the closest two.

Change requests (Alice authors C1-C4, Bob C5, Carol C6):

    C1  commit 2 Mar 08:00, opened 10:00, 1st review 12:00, merged 16:00, deployed 3 Mar 10:00
        coding 2 h, pickup 2 h, review 4 h, deploy 18 h, cycle 26 h; 2 commits
    C2  commit 2 Mar 09:00, opened 3 Mar 09:00, 1st review 15:00, merged 4 Mar 09:00, not
        deployed: coding 24 h, pickup 6 h, review 18 h; 5 commits
    C3  no commit known, opened 4 Mar 10:00, no review, merged 11:00, deployed 12:00:
        deploy 1 h, cycle 2 h (from the opening); listed no commits
    C4  opened 5 Mar 10:00, 1st review 11:00, commit 12:00 (after the opening: coding 0),
        merged 14:00, deployed 6 Mar 14:00: pickup 1 h, review 3 h, deploy 24 h, cycle from
        the opening 28 h; 1 commit
    C5  opened 6 Mar 09:00, 1st review 13:00 (4 h), open
    C6  opened 27 Feb, merged 10 Mar: outside the week but for its review (Bob, 7 Mar)

Work items:

    W1  started 2 Mar 09:00, done 4 Mar 09:00: 48 h
    W2  started 3 Mar 12:00, done 3 Mar 18:00: 6 h
    W3  never started, done 5 Mar 10:00: throughput, no cycle time
    W4  started 4 Mar 00:00, open
    W5  started 25 Feb 00:00, done 10 Mar
    W6  started 6 Mar 00:00, done 9 Mar 00:00 (the week's end: not in it, in progress at it)
"""

from datetime import UTC, datetime, timedelta
from random import Random
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sextant.insights.domain.flow import (
    ChangeTimes,
    Granularity,
    Review,
    WorkItem,
    flow,
    flow_series,
    gini,
    periods,
    review,
    review_series,
    rounds,
)

HOUR = 3600.0
SINCE = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)
ALICE, BOB, CAROL, BOT = (UUID(int=n) for n in (1, 2, 3, 4))


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


C1, C2, C3, C4, C5, C6 = (UUID(int=100 + n) for n in range(1, 7))
CHANGES = [
    ChangeTimes(C1, ALICE, at(2, 10), at(2, 8), at(2, 12), at(2, 16), at(3, 10), 2),
    ChangeTimes(C2, ALICE, at(3, 9), at(2, 9), at(3, 15), at(4, 9), None, 5),
    ChangeTimes(C3, ALICE, at(4, 10), None, None, at(4, 11), at(4, 12), 0),
    ChangeTimes(C4, ALICE, at(5, 10), at(5, 12), at(5, 11), at(5, 14), at(6, 14), 1),
    ChangeTimes(C5, BOB, at(6, 9), None, at(6, 13), None, None, 0),
    ChangeTimes(C6, CAROL, at(27, 9, month=2), None, at(7, 10), at(10, 9), None, 3),
]


def rev(change: UUID, n: int, author: UUID, reviewer: UUID, state: str, when: datetime) -> Review:
    return Review(change, f"r{n}", author, reviewer, reviewer == BOT, state, when)


REVIEWS = [
    rev(C1, 1, ALICE, BOB, "changes_requested", at(2, 12)),
    rev(C1, 2, ALICE, CAROL, "changes_requested", at(2, 12, 30)),
    rev(C1, 3, ALICE, BOB, "approved", at(2, 15)),
    rev(C2, 4, ALICE, BOB, "commented", at(3, 15)),
    rev(C2, 5, ALICE, ALICE, "approved", at(3, 16)),  # one's own: not a review
    rev(C2, 6, ALICE, BOT, "approved", at(3, 17)),  # a bot's: not an approval
    rev(C2, 7, ALICE, BOB, "changes_requested", at(3, 18)),
    rev(C2, 8, ALICE, CAROL, "commented", at(4, 8)),
    rev(C4, 9, ALICE, CAROL, "approved", at(5, 11)),
    rev(C5, 10, BOB, ALICE, "commented", at(6, 13)),
    rev(C6, 11, CAROL, BOB, "approved", at(7, 10)),
]

W = [UUID(int=200 + n) for n in range(1, 7)]
ITEMS = [
    WorkItem(W[0], at(2, 9), at(4, 9)),
    WorkItem(W[1], at(3, 12), at(3, 18)),
    WorkItem(W[2], None, at(5, 10)),
    WorkItem(W[3], at(4), None),
    WorkItem(W[4], at(25, month=2), at(10)),
    WorkItem(W[5], at(6), at(9)),
]


def hours(value: float | None) -> float | None:
    return None if value is None else value / HOUR


def test_the_weeks_change_request_phases() -> None:
    changes = flow(CHANGES, ITEMS, SINCE, UNTIL).changes
    # merged in the week: C1-C4 (C6 merges the week after); deployed: C1, C3, C4
    assert (changes.merged, changes.deployed) == (4, 3)
    # coding [0, 2, 24] (C3 has no commit): median 2, P85 at 1.7: 2 + 0.7 * 22 = 17.4
    assert changes.coding.count == 3
    assert hours(changes.coding.median) == pytest.approx(2)
    assert hours(changes.coding.p85) == pytest.approx(17.4)
    # pickup [1, 2, 6] (C3 unreviewed): median 2, P85 2 + 0.7 * 4 = 4.8
    assert changes.pickup.count == 3
    assert hours(changes.pickup.median) == pytest.approx(2)
    assert hours(changes.pickup.p85) == pytest.approx(4.8)
    # review [3, 4, 18]: median 4, P85 4 + 0.7 * 14 = 13.8
    assert hours(changes.review.median) == pytest.approx(4)
    assert hours(changes.review.p85) == pytest.approx(13.8)
    # deploy [1, 18, 24] (C2 not deployed): median 18, P85 18 + 0.7 * 6 = 22.2
    assert changes.deploy.count == 3
    assert hours(changes.deploy.median) == pytest.approx(18)
    assert hours(changes.deploy.p85) == pytest.approx(22.2)
    # cycle [2, 26, 28]: median 26, P85 26 + 0.7 * 2 = 27.4
    assert changes.cycle_time.count == 3
    assert hours(changes.cycle_time.median) == pytest.approx(26)
    assert hours(changes.cycle_time.p85) == pytest.approx(27.4)


def test_a_day_holds_the_changes_merged_that_day() -> None:
    changes = flow(CHANGES, ITEMS, at(4), at(5)).changes
    # 4 March: C2 (09:00) and C3 (11:00) merged; only C3 deployed
    assert (changes.merged, changes.deployed) == (2, 1)
    assert (changes.coding.count, hours(changes.coding.median)) == (1, pytest.approx(24))
    assert hours(changes.review.median) == pytest.approx(18)
    assert hours(changes.deploy.median) == pytest.approx(1)
    assert hours(changes.cycle_time.p85) == pytest.approx(2)


def test_a_day_of_reviews_and_clamped_coding() -> None:
    # 4 March: C2 (rounds 2, approved by no one else) and C3 (no review) merged
    day = review(CHANGES, REVIEWS, at(4), at(5))
    assert (day.merged, day.rounds.count, day.rounds.median) == (2, 1, 2)
    assert day.unreviewed_merged == 1
    assert day.merged_without_approval == 2
    # 5 March: C4, approved by Carol; its commit came after the opening: coding 0, not less
    day = review(CHANGES, REVIEWS, at(5), at(6))
    assert (day.merged, day.merged_without_approval, day.unreviewed_merged) == (1, 0, 0)
    changes = flow(CHANGES, ITEMS, at(5), at(6)).changes
    assert (changes.coding.count, changes.coding.median) == (1, 0)


def test_a_change_merged_at_the_end_belongs_to_the_next_period() -> None:
    late = ChangeTimes(UUID(int=999), ALICE, at(8), None, None, UNTIL, None, 1)
    assert flow([late], [], SINCE, UNTIL).changes.merged == 0
    assert flow([late], [], UNTIL, UNTIL + timedelta(days=1)).changes.merged == 1


def test_the_weeks_work_item_flow() -> None:
    items = flow(CHANGES, ITEMS, SINCE, UNTIL).work_items
    # done in the week: W1, W2, W3 (W6 at the end is not in it)
    assert items.throughput == 3
    # cycle [6, 48] (W3 never started): median 27, P85 at 0.85: 6 + 0.85 * 42 = 41.7
    assert items.cycle_time.count == 2
    assert hours(items.cycle_time.median) == pytest.approx(27)
    assert hours(items.cycle_time.p85) == pytest.approx(41.7)
    # in progress at 9 Mar 00:00: W4 (120 h), W5 (288 h), W6 (72 h)
    assert items.wip == 3
    # ages [72, 120, 288]: median 120, P85 120 + 0.7 * 168 = 237.6
    assert hours(items.age.median) == pytest.approx(120)
    assert hours(items.age.p85) == pytest.approx(237.6)


def test_wip_and_age_are_taken_at_the_periods_end() -> None:
    items = flow(CHANGES, ITEMS, at(3), at(4)).work_items
    # 3 March: W2 done; at 4 Mar 00:00 W1 (39 h) and W5 (7 days, 168 h) are in progress, W4 starts
    # exactly then (not before the end)
    assert (items.throughput, hours(items.cycle_time.median)) == (1, pytest.approx(6))
    assert items.wip == 2
    # ages [39, 168]: median 103.5, P85 39 + 0.85 * 129 = 148.65
    assert hours(items.age.median) == pytest.approx(103.5)
    assert hours(items.age.p85) == pytest.approx(148.65)


def test_the_weeks_review_figures() -> None:
    figures = review(CHANGES, REVIEWS, SINCE, UNTIL)
    # opened in the week: C1-C5; first review after [2, 6, 1, 4] (C3 none):
    # median (2 + 4) / 2 = 3, P85 at 2.55: 4 + 0.55 * 2 = 5.1
    assert figures.opened == 5
    assert figures.time_to_first_review.count == 4
    assert hours(figures.time_to_first_review.median) == pytest.approx(3)
    assert hours(figures.time_to_first_review.p85) == pytest.approx(5.1)
    # rounds: C1 two requests at once then approval: 2; C2 comment, request, comment: 2
    # (Alice's own and the bot's reviews do not count); C4: 1; C3 unreviewed
    assert figures.merged == 4
    assert (figures.rounds.count, figures.rounds.median, figures.rounds.p85) == (3, 2, 2)
    assert figures.unreviewed_merged == 1
    # commits [1, 2, 5] (C3 listed none): median 2, P85 2 + 0.7 * 3 = 4.1
    assert figures.change_size.count == 3
    assert figures.change_size.median == 2
    assert figures.change_size.p85 == pytest.approx(4.1)
    # C2 (only its author and a bot approved) and C3 (no review)
    assert figures.merged_without_approval == 2


def test_reviewer_load_and_its_concentration() -> None:
    figures = review(CHANGES, REVIEWS, SINCE, UNTIL)
    # Bob r1 r3 r4 r7 r11 (C1, C2, C6), Carol r2 r8 r9 (C1, C2, C4), Alice r10 (C5); 9 in all
    assert [(x.reviewer, x.reviews, x.changes) for x in figures.load] == [
        (BOB, 5, 3),
        (CAROL, 3, 3),
        (ALICE, 1, 1),
    ]
    assert [x.share for x in figures.load] == pytest.approx([5 / 9, 3 / 9, 1 / 9])
    # Gini of [1, 3, 5]: 2 (1 + 6 + 15) / (3 * 9) - 4 / 3 = 44/27 - 36/27 = 8/27
    assert figures.concentration.reviewers == 3
    assert figures.concentration.reviews == 9
    assert figures.concentration.top_share == pytest.approx(5 / 9)
    assert figures.concentration.gini == pytest.approx(8 / 27)


def test_bots_reviews_count_in_the_load_only_when_asked() -> None:
    figures = review(CHANGES, REVIEWS, SINCE, UNTIL, include_bots=True)
    # the bot's r6 joins: 10 reviews, Bob's share 5 / 10
    assert figures.concentration.reviews == 10
    assert figures.concentration.top_share == pytest.approx(0.5)
    assert (BOT, 1) in [(x.reviewer, x.reviews) for x in figures.load]
    # still not an approval: C2 stays unapproved
    assert figures.merged_without_approval == 2


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], 0),
        (["approved"], 1),
        (["changes_requested", "changes_requested", "approved"], 2),
        (["changes_requested", "approved", "changes_requested", "approved"], 3),
        (["commented", "changes_requested"], 1),
        (["changes_requested", "commented", "changes_requested", "commented"], 3),
    ],
)
def test_review_rounds(states: list[str], expected: int) -> None:
    reviews = [rev(C1, n, ALICE, BOB, s, at(2, 10 + n)) for n, s in enumerate(states)]
    assert rounds(reviews) == expected


def test_gini_of_worked_counts() -> None:
    assert gini([]) is None
    assert gini([4]) == 0  # one reviewer: nothing to compare
    assert gini([2, 2, 2]) == pytest.approx(0)
    # [0, 0, 6] keeps only those who reviewed: one reviewer, 0
    assert gini([0, 0, 6]) == pytest.approx(0)
    # [1, 9]: 2 (1 + 18) / (2 * 10) - 3 / 2 = 1.9 - 1.5 = 0.4
    assert gini([9, 1]) == pytest.approx(0.4)


def test_periods_are_cut_from_since_and_the_last_may_be_short() -> None:
    assert periods(at(2), at(9, 12), Granularity.WEEK) == [(at(2), at(9)), (at(9), at(9, 12))]
    assert periods(at(2, 6), at(4), Granularity.DAY) == [(at(2, 6), at(3, 6)), (at(3, 6), at(4))]
    with pytest.raises(ValueError):
        periods(at(4), at(4), Granularity.DAY)


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_figures_do_not_depend_on_the_order_the_rows_come_in(rng: Random) -> None:
    changes, reviews, items = list(CHANGES), list(REVIEWS), list(ITEMS)
    rng.shuffle(changes)
    rng.shuffle(reviews)
    rng.shuffle(items)
    assert flow(changes, items, SINCE, UNTIL) == flow(CHANGES, ITEMS, SINCE, UNTIL)
    assert review(changes, reviews, SINCE, UNTIL) == review(CHANGES, REVIEWS, SINCE, UNTIL)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(list(Granularity)), st.integers(min_value=1, max_value=20 * 24))
def test_the_periods_add_up_to_the_total(granularity: Granularity, span_hours: int) -> None:
    until = SINCE + timedelta(hours=span_hours)
    cuts = periods(SINCE, until, granularity)
    total = flow(CHANGES, ITEMS, SINCE, until)
    series = flow_series(CHANGES, ITEMS, cuts)
    assert series == [flow(CHANGES, ITEMS, s, e) for s, e in cuts]
    assert sum(c.changes.merged for c in series) == total.changes.merged
    assert sum(c.changes.cycle_time.count for c in series) == total.changes.cycle_time.count
    assert sum(c.work_items.throughput for c in series) == total.work_items.throughput
    assert series[-1].work_items.wip == total.work_items.wip  # both at until
    reviewed = review_series(CHANGES, REVIEWS, cuts)
    assert reviewed == [review(CHANGES, REVIEWS, s, e) for s, e in cuts]
    whole = review(CHANGES, REVIEWS, SINCE, until)
    assert sum(r.concentration.reviews for r in reviewed) == whole.concentration.reviews
    assert sum(r.opened for r in reviewed) == whole.opened

"""The demo's generated history: it ends at the moment asked for, every delivery is one
ingest's real normalizers read into facts, and a seed gives the same history each time.

Worked example: ``now`` is Wednesday 2026-03-04 15:30 UTC and the history 12 weeks long,
so it starts Wednesday 2025-12-10 15:30; sprints begin on the Monday on or before that,
2025-12-08 09:00, every 14 days: Dec 8, Dec 22, Jan 5, Jan 19, Feb 2, Feb 16 and Mar 2
— 7 started, of which the 6 that ended by now (the last on Mar 2 09:00) are closed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from sextant.cli.demo_data import DemoHistory, generate
from sextant.contracts.events.activity import (
    ChangeRequestMerged,
    SprintClosed,
    SprintStarted,
    WorkItemCreated,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, normalize

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
SOURCE = UUID("01a24b55-0000-7000-8000-000000000001")


@pytest.fixture(scope="module")
def history() -> DemoHistory:
    return generate(NOW, seed=3, weeks=12, team_size=8)


def facts(history: DemoHistory) -> list[Any]:
    """Every delivery through ingest's normalizer; each must give facts, none ignored."""
    ctx = Context(SOURCE, MappingRules())
    found = []
    for delivery in history.deliveries():
        normalized = normalize(delivery.source, ctx, delivery.event, delivery.payload)
        assert normalized.ignored is None, (delivery.event, normalized.ignored)
        assert normalized.facts, delivery
        found += [fact.event for fact in normalized.facts]
    return found


def test_every_delivery_is_read_by_ingest_and_nothing_happens_after_now(
    history: DemoHistory,
) -> None:
    events = facts(history)
    moments = [
        getattr(e, "occurred_at", None)
        or getattr(e, "merged_at", None)
        or getattr(e, "finished_at", None)
        for e in events
    ]
    assert all(m is not None and m <= NOW for m in moments)
    assert all(d.at <= NOW for d in history.deliveries())
    # the history ends today (the newest backlog issue is filed a quarter hour ago)
    assert max(d.at for d in history.deliveries()) == NOW - timedelta(minutes=15)
    # and begins about twelve weeks ago (issues filed up to two weeks before work starts)
    assert min(d.at for d in history.deliveries()) >= NOW - timedelta(weeks=12, days=14)


def test_sprints_are_two_weeks_from_a_monday_and_the_current_one_is_open(
    history: DemoHistory,
) -> None:
    events = facts(history)
    started = [e for e in events if isinstance(e, SprintStarted)]
    closed = [e for e in events if isinstance(e, SprintClosed)]
    assert [s.sprint.starts_at for s in started] == [
        datetime(2025, 12, 8, 9, tzinfo=UTC) + timedelta(days=14 * n) for n in range(7)
    ]
    assert [s.sprint.name for s in started] == [f"ENG Sprint {n}" for n in range(1, 8)]
    assert len(closed) == 6
    assert history.sprints == 7


def test_counts_agree_with_what_the_deliveries_say(history: DemoHistory) -> None:
    events = facts(history)
    created = {e.work_item.key for e in events if isinstance(e, WorkItemCreated)}
    resolved = [e.work_item.key for e in events if isinstance(e, WorkItemResolved)]
    assert sorted(resolved) == sorted(history.done_keys)
    assert len(resolved) == len(set(resolved))
    every = (
        history.done_keys
        + history.in_progress_keys
        + history.in_review_keys
        + history.stale_keys
        + history.backlog_keys
    )
    assert sorted(every) == sorted(created)
    assert len(history.stale_keys) == 3
    assert len(history.backlog_keys) == 12
    # a team of 8 finishing one to three issues a week each
    assert 8 * 12 <= len(resolved) <= 8 * 12 * 3
    # each person's current issue is still under way
    assert len(history.in_progress_keys) + len(history.in_review_keys) == 8
    merged = [e for e in events if isinstance(e, ChangeRequestMerged)]
    assert len(merged) == len(resolved)  # every done issue shipped through a pull request
    people = {
        e.work_item.assignee.email
        for e in events
        if isinstance(e, WorkItemResolved) and e.work_item.assignee is not None
    }
    assert len(people) == 8


def test_every_completed_week_has_throughput(history: DemoHistory) -> None:
    """The forecast's input: weeks (Monday to Sunday) with resolutions, none empty from
    the team's first full week to last week."""
    weeks = Counter(
        e.occurred_at.date() - timedelta(days=e.occurred_at.weekday())
        for e in facts(history)
        if isinstance(e, WorkItemResolved)
    )
    full_weeks = [date(2025, 12, 15) + timedelta(weeks=n) for n in range(11)]  # to Feb 23
    assert all(weeks[monday] >= 5 for monday in full_weeks), weeks


def test_each_issue_moves_forward_in_time_and_stale_ones_stopped_weeks_ago(
    history: DemoHistory,
) -> None:
    moves: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for e in facts(history):
        if isinstance(e, WorkItemTransitioned):
            moves[e.work_item.key].append((e.occurred_at, e.to_status))
    for key in history.done_keys:
        assert [status for _, status in moves[key]] == ["In Progress", "In Review", "Done"]
        times = [at for at, _ in moves[key]]
        assert times == sorted(times)
    for n, key in enumerate(sorted(history.stale_keys, key=lambda k: int(k.split("-")[1]))):
        [(at, status)] = moves[key]
        assert status == "In Progress"
        assert NOW - at >= timedelta(days=18 + 5 * n)  # 18, 23 and 28 days and more


def test_threads_are_in_order_and_delivery_ids_unique(history: DemoHistory) -> None:
    for thread in history.threads:
        assert [d.at for d in thread] == sorted(d.at for d in thread)
        assert len({d.source for d in thread}) == 1
    ids = [d.delivery_id for d in history.deliveries()]
    assert len(ids) == len(set(ids))


def test_the_same_seed_and_moment_give_the_same_history() -> None:
    def dump(h: DemoHistory) -> str:
        return json.dumps([[d.payload, d.delivery_id, d.event] for d in h.deliveries()])

    first = generate(NOW, seed=11, weeks=4, team_size=3)
    again = generate(NOW, seed=11, weeks=4, team_size=3)
    other = generate(NOW, seed=12, weeks=4, team_size=3)
    assert dump(first) == dump(again)
    assert dump(first) != dump(other)


def test_impossible_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate(datetime.fromisoformat("2026-03-04T15:30:00"), seed=1)  # naive
    with pytest.raises(ValueError, match="team_size"):
        generate(NOW, team_size=0)
    with pytest.raises(ValueError, match="weeks"):
        generate(NOW, weeks=1)

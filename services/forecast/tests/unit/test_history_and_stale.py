"""Throughput and cycle times from histories; stale flags with reasons."""

from datetime import UTC, date, datetime, timedelta

from sextant.forecast.domain.history import (
    Transition,
    cycle_time_days,
    finish_probability,
    throughput_by_day,
    throughput_by_week,
)
from sextant.forecast.domain.stale import assess

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday


def test_throughput_by_week_keeps_zero_weeks() -> None:
    done = [T0, T0 + timedelta(days=1), T0 + timedelta(days=15)]
    assert throughput_by_week(done, date(2026, 11, 2), date(2026, 11, 22)) == [2, 0, 1]


def test_throughput_by_day_counts_utc_days_and_keeps_empty_ones() -> None:
    late_on_the_3rd = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
    done = [T0, T0 + timedelta(hours=2), late_on_the_3rd, T0 + timedelta(days=9)]
    assert throughput_by_day(done, date(2026, 11, 2), date(2026, 11, 5)) == [2, 1, 0, 0]


def test_cycle_time_runs_from_first_start_to_final_done() -> None:
    history = [
        Transition(T0, "To Do", "todo"),
        Transition(T0 + timedelta(days=1), "In Progress", "in_progress"),
        Transition(T0 + timedelta(days=3), "Done", "done"),
        Transition(T0 + timedelta(days=4), "In Progress", "in_progress"),  # reopened
        Transition(T0 + timedelta(days=6), "Done", "done"),
    ]
    assert cycle_time_days(history) == 5.0
    assert cycle_time_days(history[:2]) is None


def test_started_and_done_are_configurable_by_status() -> None:
    history = [
        Transition(T0, "Review", "in_progress"),
        Transition(T0 + timedelta(days=2), "Deployed", "in_progress"),
    ]
    assert (
        cycle_time_days(history, started=frozenset({"Review"}), done=frozenset({"Deployed"})) == 2.0
    )


def test_finish_probability_is_conditional_on_age() -> None:
    past = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert finish_probability(0, 5, past) == 0.5
    assert finish_probability(8, 1, past) == 0.5
    assert finish_probability(20, 5, past) == 0.0


def test_an_outlier_is_stale_with_a_plain_explanation() -> None:
    past = [2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8]
    verdict = assess("In Review", 40, past)
    assert verdict.stale and verdict.percentile == 100.0
    assert (
        "40.0 days in 'In Review'" in verdict.explanation
        and "longer than 100%" in verdict.explanation
    )


def test_a_normal_age_is_not_stale() -> None:
    verdict = assess("In Review", 5, [2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8])
    assert not verdict.stale and verdict.score < 1


def test_without_enough_history_nothing_is_flagged() -> None:
    verdict = assess("In Review", 400, [1, 2, 3])
    assert not verdict.stale and "not enough history" in verdict.explanation

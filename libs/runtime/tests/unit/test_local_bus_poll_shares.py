"""A local bus poll's budget goes to the partitions that have records, max-min fairly."""

from __future__ import annotations

from sextant.runtime.bus.local import poll_shares

A, B, C = ("t", 0), ("t", 1), ("t", 2)


def test_one_busy_partition_gets_the_whole_budget() -> None:
    assert poll_shares({A: 100_000, B: 0}, 50_000) == {A: 50_000}


def test_small_backlogs_are_taken_whole_and_the_rest_split_among_the_large() -> None:
    # 60: A's 5 whole, then 55 over B and C: B 27 (55 // 2), C the 28 left
    assert poll_shares({A: 5, B: 100, C: 1_000}, 60) == {A: 5, B: 27, C: 28}


def test_everything_waiting_fits_the_budget() -> None:
    assert poll_shares({A: 3, B: 4}, 100) == {A: 3, B: 4}


def test_no_partition_with_records_is_starved_when_they_outnumber_the_budget() -> None:
    assert poll_shares({A: 9, B: 9, C: 9}, 2) == {A: 1, B: 1, C: 1}


def test_nothing_waiting_takes_nothing() -> None:
    assert poll_shares({A: 0}, 500) == {}

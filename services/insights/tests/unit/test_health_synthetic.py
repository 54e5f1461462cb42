"""The synthetic teams: seeded, planted as asked, and the detectors meet the targets on a
small population (>= 90 % of plants found, <= 10 % of findings false, clean teams quiet)."""

from __future__ import annotations

from sextant.insights.health.detectors import detect
from sextant.insights.health.synthetic import PLANTS, evaluate, population, team


def test_a_seed_draws_the_same_team() -> None:
    assert team(7, PLANTS) == team(7, PLANTS)
    assert team(7) != team(8)


def test_plants_are_recorded_and_a_clean_team_has_none() -> None:
    assert team(3).plants == ()
    planted = team(3, PLANTS).plants
    assert [p.problem for p in planted] == [
        "silo",
        "overloaded_reviewer",
        "stuck_newcomer",
        "overloaded_assignee",
    ]
    assert len({p.person for p in planted}) == 4


def test_a_clean_team_raises_nothing() -> None:
    assert detect(team(11).activity) == []


def test_detectors_meet_the_targets_on_a_small_population() -> None:
    result = evaluate(population(seed=2, size=60))
    assert result.planted == 60 // 6 * 8  # 4 singles + 1 with all four, per 6 teams
    assert result.recall >= 0.9
    assert result.false_share <= 0.1
    assert result.clean_alarm_rate <= 0.1
    assert all(r >= 0.8 for r in result.recall_by_problem.values())

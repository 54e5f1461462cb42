"""Synthetic teams with planted problems, and the detectors' evaluation against them.

A team is drawn from a seed (``random.Random``, nothing else): 5-8 members sharing 3-5
repositories evenly, review waits and cycle times exponential, one or two reviews per
change by any teammate, one to three items in progress each, steady weekly figures. A
clean team has no problem by construction (its open changes are fresh, nobody holds
stale work). A plant adds one problem on top:

- ``overloaded_reviewer``: one member gives about two thirds of the reviews;
- ``silo``: one repository written (90 %+) by one member;
- ``stuck_newcomer``: a new member's change open for weeks in a repository where a
  teammate has deep history;
- ``overloaded_assignee``: one member with 10-12 items in progress and more queued.

A plant is found when a finding of its kind names its person (and its area, for a silo).
A finding is false when no plant explains it: on a clean team every finding is false.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sextant.insights.domain.trends import Week
from sextant.insights.health.detectors import (
    Change,
    Finding,
    Review,
    TeamActivity,
    WorkItem,
    detect,
)

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
AREAS = ("api", "web", "billing", "infra", "docs")
PLANTS = ("overloaded_reviewer", "silo", "stuck_newcomer", "overloaded_assignee")
# plant → the finding kind that must find it, and the kinds it explains
FOUND_BY = {
    "overloaded_reviewer": "reviewer_load",
    "silo": "knowledge_silo",
    "stuck_newcomer": "pairing",
    "overloaded_assignee": "wip_overload",
}
EXPLAINS = {
    "overloaded_reviewer": {"reviewer_load", "review_wait"},
    "silo": {"knowledge_silo", "pairing", "redistribution"},
    "stuck_newcomer": {"pairing", "review_wait"},
    "overloaded_assignee": {"wip_overload", "redistribution", "assigned_while_stale"},
}


@dataclass(frozen=True)
class Plant:
    problem: str
    person: UUID
    area: str | None = None


@dataclass(frozen=True)
class SyntheticTeam:
    activity: TeamActivity
    plants: tuple[Plant, ...]


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _change(
    rng: random.Random, author: UUID, area: str, opened: datetime, merged: bool = True
) -> Change:
    review = opened + timedelta(hours=rng.expovariate(1 / 6))
    return Change(
        id=_uuid(rng),
        author=author,
        area=area,
        opened_at=opened,
        first_review_at=review,
        merged_at=review + timedelta(hours=rng.expovariate(1 / 20)) if merged else None,
    )


def team(seed: int, plants: Sequence[str] = ()) -> SyntheticTeam:
    """A team drawn from ``seed``, clean or with the named problems planted."""
    rng = random.Random(seed)
    members = [_uuid(rng) for _ in range(rng.randint(5, 8))]
    areas = list(AREAS[: rng.randint(3, 5)])
    planted: list[Plant] = []
    silo_area = owner = None
    if "silo" in plants:
        silo_area, owner = areas[-1], members[0]
        planted.append(Plant("silo", owner, silo_area))
    changes: list[Change] = []
    for area in areas:
        for _ in range(rng.randint(14, 20)):
            author = rng.choice(members)
            if area == silo_area and owner is not None and rng.random() < 0.95:
                author = owner
            opened = NOW - timedelta(days=rng.uniform(2, 300))
            changes.append(_change(rng, author, area, opened))
    reviewer_heavy = members[1] if "overloaded_reviewer" in plants else None
    if reviewer_heavy is not None:
        planted.append(Plant("overloaded_reviewer", reviewer_heavy))
    if "stuck_newcomer" in plants:
        newcomer, expert, area = _uuid(rng), members[2], areas[0]
        members.append(newcomer)
        for _ in range(6):
            opened = NOW - timedelta(days=rng.uniform(10, 200))
            changes.append(_change(rng, expert, area, opened))
        stuck = _change(rng, newcomer, area, NOW - timedelta(days=rng.uniform(12, 20)), False)
        changes.append(stuck)
        planted.append(Plant("stuck_newcomer", newcomer, area))
    for _ in range(rng.randint(1, 3)):  # fresh open changes, not yet reviewed
        opened = NOW - timedelta(minutes=rng.uniform(5, 50))
        changes.append(Change(_uuid(rng), rng.choice(members), rng.choice(areas), opened))
    reviews = []
    for c in changes:
        if c.first_review_at is None:
            continue
        for k in range(rng.randint(1, 2)):
            others = [m for m in members if m != c.author]
            who = rng.choice(others)
            if reviewer_heavy in others and rng.random() < 0.65:
                who = reviewer_heavy
            at = c.first_review_at + timedelta(hours=k)
            reviews.append(Review(c.id, who, at))
    items: list[WorkItem] = []
    assignee_heavy = members[3] if "overloaded_assignee" in plants else None
    for m in members:
        in_progress = rng.randint(10, 12) if m == assignee_heavy else rng.randint(1, 3)
        queued = 3 if m == assignee_heavy else rng.randint(0, 2)
        for status, count in (("in_progress", in_progress), ("queued", queued)):
            for _ in range(count):
                items.append(
                    WorkItem(
                        id=_uuid(rng),
                        key=f"T-{len(items) + 1}",
                        assignee=m,
                        status=status,  # type: ignore[arg-type]
                        assigned_at=NOW - timedelta(days=rng.uniform(1, 30)),
                        area=rng.choice(areas),
                    )
                )
    if assignee_heavy is not None:
        planted.append(Plant("overloaded_assignee", assignee_heavy))
    start = (NOW - timedelta(weeks=40)).date()
    weeks = []
    for i in range(40):
        merged = rng.randint(6, 14)
        weeks.append(
            Week(
                start + timedelta(weeks=i),
                5,
                merged + rng.randint(0, 6),
                merged + rng.randint(-2, 2),
                merged,
                merged + rng.randint(0, 4),
                None,
                None,
                None,
            )
        )
    activity = TeamActivity(NOW, tuple(members), changes, reviews, items, weeks)
    return SyntheticTeam(activity, tuple(planted))


def finds(plant: Plant, f: Finding) -> bool:
    return (
        f.kind == FOUND_BY[plant.problem]
        and plant.person in f.people
        and (plant.problem != "silo" or f.area == plant.area)
    )


def explained(f: Finding, plants: Sequence[Plant]) -> bool:
    return any(f.kind in EXPLAINS[p.problem] and p.person in f.people for p in plants)


@dataclass(frozen=True)
class Evaluation:
    planted: int
    found: int
    clean_findings: int
    false_findings: int
    findings: int
    clean_teams: int
    clean_teams_alarmed: int
    recall_by_problem: dict[str, float]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def false_share(self) -> float:
        """Findings no plant explains, among all findings."""
        return self.false_findings / self.findings if self.findings else 0.0

    @property
    def clean_alarm_rate(self) -> float:
        """Clean teams with any finding at all."""
        return self.clean_teams_alarmed / self.clean_teams if self.clean_teams else 0.0


def evaluate(teams: Sequence[SyntheticTeam]) -> Evaluation:
    """Run the detectors on every team and score them against the plants."""
    planted = found = clean_findings = false = total = clean = alarmed = 0
    by_problem: dict[str, list[int]] = {p: [0, 0] for p in PLANTS}
    for t in teams:
        findings = detect(t.activity)
        total += len(findings)
        false += sum(1 for f in findings if not explained(f, t.plants))
        if not t.plants:
            clean += 1
            clean_findings += len(findings)
            alarmed += bool(findings)
        for p in t.plants:
            hit = any(finds(p, f) for f in findings)
            planted += 1
            found += hit
            by_problem[p.problem][0] += hit
            by_problem[p.problem][1] += 1
    recall = {p: hits / n for p, (hits, n) in by_problem.items() if n}
    return Evaluation(planted, found, clean_findings, false, total, clean, alarmed, recall)


def population(seed: int, size: int) -> list[SyntheticTeam]:
    """``size`` teams: a clean one, then each problem alone, then all four, in turn."""
    mixes: list[tuple[str, ...]] = [(), *((p,) for p in PLANTS), PLANTS]
    return [team(seed * 100_000 + i, mixes[i % len(mixes)]) for i in range(size)]

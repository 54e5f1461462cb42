"""Team-health detectors: pure functions from a team's recent activity to findings.

Every finding carries its kind, a severity, the evidence as numbers, the ids of the items
behind it (change requests, work items) and the developers it is about, as identity's
developer ids (never a name or an email). The thresholds are method constants stated
here, not fitted to any tenant:

- **review_wait**: an open change waiting for its first review longer than the team's P85
  of first-review waits over the window (at least ``MIN_WAITS`` of them; interpolated
  between the closest ranks, as the DORA and flow metrics the team sees compute it).
- **reviewer_load**: the top reviewer's **share** of the window's reviews is at least
  ``TOP_SHARE_FACTOR`` times the fair share (1 / reviewers). Top-share rather than Gini
  decides because it names the person carrying the load and reads as "X does 60 % of the
  reviews"; the Gini coefficient (0 = even, 1 = one person) is reported as evidence. The
  share must also be unlikely by chance: the binomial tail P(X >= top | reviews, fair
  share) below ``ALPHA / reviewers`` (a small team's twelve reviews put 40 % on someone
  by luck about a quarter of the time).
- **wip_overload**: a person's WIP above the team's norm, ``median + WIP_K * max(MAD *
  1.4826, 1)`` over the members (a robust z-score of 3: one overloaded person does not
  move the norm as a mean and standard deviation would; the floor of one item keeps a team
  whose WIP is all equal from flagging a difference of one).
- **assigned_while_stale**: a person given new work after one of their own in-progress
  items was flagged stale by the forecast service.
- **knowledge_silo**: an area (a repository) where one author wrote at least
  ``SILO_SHARE`` of the last year's changes, with at least ``SILO_MIN_CHANGES`` of them
  (a bus factor of one).
- **pairing**: someone's change open longer than the team's P85 cycle time, in an area
  where they have little history (< ``EXPERT_MIN_CHANGES`` changes in the year) and a
  teammate has deep recent history (the most changes there, at least that many).
- **redistribution**: an overloaded person's queued (not started) items that a teammate
  with capacity (WIP at or below the team median) and history in the item's area could take.
- **flow_regression**: a team flow metric whose last ``REGRESSION_WEEKS`` weeks differ
  from the year before by the trends' Mann-Whitney test, in the bad direction, at
  ``ALPHA / len(METRICS)`` (Bonferroni over the metrics tested together: a steady team
  raises a false regression in at most ~5 % of the runs, not ~30 % at 0.05 each).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any, Literal
from uuid import UUID

from sextant.insights.domain.dora import percentile
from sextant.insights.domain.trends import (
    ALPHA,
    BASELINE_WEEKS,
    METRICS,
    DeveloperDay,
    Week,
    weekly,
    window_trend,
)

Severity = Literal["low", "medium", "high"]
KINDS = (
    "review_wait",
    "reviewer_load",
    "wip_overload",
    "assigned_while_stale",
    "knowledge_silo",
    "pairing",
    "redistribution",
    "flow_regression",
)

WINDOW = timedelta(days=90)  # reviews, waits and cycle times looked at
HISTORY = timedelta(days=365)  # authorship behind silos and expertise
MIN_WAITS = 5
TOP_SHARE_FACTOR = 2.0
MIN_REVIEWS = 12
MIN_REVIEWERS = 3
WIP_K = 3.0
MAD_SCALE = 1.4826  # MAD to a standard deviation under normality
SILO_SHARE = 0.8
SILO_MIN_CHANGES = 10
EXPERT_MIN_CHANGES = 5
REGRESSION_WEEKS = 4
REGRESSION_ALPHA = ALPHA / len(METRICS)


@dataclass(frozen=True)
class Change:
    """A change request: who wrote it, where, and its review and merge times."""

    id: UUID
    author: UUID
    area: str
    opened_at: datetime
    first_review_at: datetime | None = None
    merged_at: datetime | None = None
    closed: bool = False

    @property
    def open(self) -> bool:
        return self.merged_at is None and not self.closed


@dataclass(frozen=True)
class Review:
    change_id: UUID
    reviewer: UUID
    submitted_at: datetime


@dataclass(frozen=True)
class WorkItem:
    """A work item as the health run sees it: ``queued`` (to do), ``in_progress`` or
    ``done``; ``stale_since`` when the forecast service flagged it (and not dismissed)."""

    id: UUID
    key: str
    assignee: UUID | None
    status: Literal["queued", "in_progress", "done"]
    assigned_at: datetime
    area: str | None = None
    stale_since: datetime | None = None


@dataclass(frozen=True)
class TeamActivity:
    """Everything a run looks at, for one team (or one workspace) at ``now``."""

    now: datetime
    members: tuple[UUID, ...]
    changes: Sequence[Change] = ()
    reviews: Sequence[Review] = ()
    items: Sequence[WorkItem] = ()
    weeks: Sequence[Week] = ()  # the team's weekly flow figures, oldest first


@dataclass(frozen=True)
class Finding:
    """One problem found, with the numbers and the ids that make it checkable."""

    id: str
    kind: str
    severity: Severity
    people: tuple[UUID, ...]
    area: str | None
    evidence: dict[str, float]
    change_ids: tuple[UUID, ...] = ()
    item_ids: tuple[UUID, ...] = ()
    detail: dict[str, str] = field(default_factory=dict)


def finding_id(kind: str, *subject: object) -> str:
    """Stable across runs for the same subject, so feedback and cooldowns can follow it."""
    digest = hashlib.sha256("|".join([kind, *map(str, subject)]).encode()).hexdigest()
    return f"{kind}-{digest[:10]}"


def gini(counts: Sequence[float]) -> float:
    """Gini coefficient of ``counts`` (0 = all equal); 0 for no or all-zero counts."""
    total = sum(counts)
    n = len(counts)
    if n == 0 or total == 0:
        return 0.0
    ordered = sorted(counts)
    weighted = sum((i + 1) * c for i, c in enumerate(ordered))
    return (2 * weighted) / (n * total) - (n + 1) / n


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def wip_norm(wips: Sequence[int]) -> tuple[float, float, float]:
    """(median, MAD, threshold) of the members' WIP."""
    mid = median(wips)
    mad = median(abs(w - mid) for w in wips)
    return mid, mad, mid + WIP_K * max(mad * MAD_SCALE, 1.0)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def review_wait(team: TeamActivity) -> list[Finding]:
    since = team.now - WINDOW
    waits = [
        _hours(c.first_review_at - c.opened_at)
        for c in team.changes
        if c.first_review_at is not None and c.first_review_at >= since
    ]
    if len(waits) < MIN_WAITS:
        return []
    p85 = percentile(waits, 0.85) or 0.0
    found = []
    for c in team.changes:
        if not c.open or c.first_review_at is not None:
            continue
        waited = _hours(team.now - c.opened_at)
        if waited > p85:
            found.append(
                Finding(
                    id=finding_id("review_wait", c.id),
                    kind="review_wait",
                    severity="high" if waited > 2 * p85 else "medium",
                    people=(c.author,),
                    area=c.area,
                    evidence={"wait_hours": round(waited, 1), "team_p85_hours": round(p85, 2)},
                    change_ids=(c.id,),
                )
            )
    return found


def reviewer_load(team: TeamActivity) -> list[Finding]:
    since = team.now - WINDOW
    recent = [r for r in team.reviews if r.submitted_at >= since]
    counts = Counter(r.reviewer for r in recent)
    for member in team.members:
        counts.setdefault(member, 0)
    if len(recent) < MIN_REVIEWS or len(counts) < MIN_REVIEWERS:
        return []
    top, top_count = max(counts.items(), key=lambda kv: (kv[1], str(kv[0])))
    share = top_count / len(recent)
    fair = 1 / len(counts)
    # compared as counts (top * reviewers against factor * reviews): no float rounding
    if top_count * len(counts) < TOP_SHARE_FACTOR * len(recent):
        return []
    chance = binomial_tail(top_count, len(recent), fair)
    if chance >= ALPHA / len(counts):
        return []
    return [
        Finding(
            id=finding_id("reviewer_load", top),
            kind="reviewer_load",
            severity="high" if top_count * len(counts) >= 3 * len(recent) else "medium",
            people=(top,),
            area=None,
            evidence={
                "top_share": round(share, 3),
                "fair_share": round(fair, 3),
                "gini": round(gini(list(counts.values())), 3),
                "chance_p": round(chance, 6),
                "reviews": len(recent),
                "reviewers": len(counts),
            },
            change_ids=tuple(sorted({r.change_id for r in recent if r.reviewer == top}, key=str)),
        )
    ]


def _wip(team: TeamActivity) -> dict[UUID, list[WorkItem]]:
    wip: dict[UUID, list[WorkItem]] = {m: [] for m in team.members}
    for item in team.items:
        if item.status == "in_progress" and item.assignee in wip:
            wip[item.assignee].append(item)
    return wip


def overloaded(team: TeamActivity) -> dict[UUID, tuple[int, float, float, float]]:
    """Members above the WIP norm → (their WIP, median, MAD, threshold)."""
    wip = _wip(team)
    if len(wip) < MIN_REVIEWERS:
        return {}
    mid, mad, threshold = wip_norm([len(v) for v in wip.values()])
    return {m: (len(v), mid, mad, threshold) for m, v in wip.items() if len(v) > threshold}


def wip_overload(team: TeamActivity) -> list[Finding]:
    wip = _wip(team)
    found = []
    for person, (count, mid, mad, threshold) in overloaded(team).items():
        found.append(
            Finding(
                id=finding_id("wip_overload", person),
                kind="wip_overload",
                severity="high" if count > 2 * threshold else "medium",
                people=(person,),
                area=None,
                evidence={
                    "wip": count,
                    "team_median": mid,
                    "team_mad": mad,
                    "threshold": round(threshold, 2),
                },
                item_ids=tuple(i.id for i in wip[person]),
            )
        )
    return found


def assigned_while_stale(team: TeamActivity) -> list[Finding]:
    by_person: dict[UUID, list[WorkItem]] = defaultdict(list)
    for item in team.items:
        if item.assignee is not None:
            by_person[item.assignee].append(item)
    found = []
    for person, items in by_person.items():
        stale = [i for i in items if i.status == "in_progress" and i.stale_since is not None]
        if not stale:
            continue
        first_stale = min(i.stale_since for i in stale if i.stale_since is not None)
        newer = [i for i in items if i.status != "done" and i.assigned_at > first_stale]
        if not newer:
            continue
        found.append(
            Finding(
                id=finding_id("assigned_while_stale", person),
                kind="assigned_while_stale",
                severity="high" if len(stale) >= 2 else "medium",
                people=(person,),
                area=None,
                evidence={"stale_items": len(stale), "assigned_since_stale": len(newer)},
                item_ids=tuple(i.id for i in stale + newer),
                detail={"stale_keys": ",".join(i.key for i in stale)},
            )
        )
    return found


def _authorship(team: TeamActivity) -> dict[str, Counter[UUID]]:
    since = team.now - HISTORY
    areas: dict[str, Counter[UUID]] = defaultdict(Counter)
    for c in team.changes:
        if c.opened_at >= since:
            areas[c.area][c.author] += 1
    return areas


def knowledge_silo(team: TeamActivity) -> list[Finding]:
    found = []
    for area, authors in sorted(_authorship(team).items()):
        total = sum(authors.values())
        owner, count = authors.most_common(1)[0]
        if total < SILO_MIN_CHANGES or count / total < SILO_SHARE:
            continue
        found.append(
            Finding(
                id=finding_id("knowledge_silo", area),
                kind="knowledge_silo",
                severity="high" if count == total else "medium",
                people=(owner,),
                area=area,
                evidence={"author_share": round(count / total, 3), "changes": total},
            )
        )
    return found


def _expert(authors: Counter[UUID], besides: UUID, members: Iterable[UUID]) -> UUID | None:
    team = set(members)
    ranked = [(n, str(a), a) for a, n in authors.items() if a != besides and a in team]
    if not ranked:
        return None
    n, _, who = max(ranked)
    return who if n >= EXPERT_MIN_CHANGES else None


def pairing(team: TeamActivity) -> list[Finding]:
    since = team.now - WINDOW
    cycles = [
        _hours(c.merged_at - c.opened_at)
        for c in team.changes
        if c.merged_at is not None and c.merged_at >= since
    ]
    if len(cycles) < MIN_WAITS:
        return []
    p85 = percentile(cycles, 0.85) or 0.0
    history = _authorship(team)
    found = []
    for c in team.changes:
        age = _hours(team.now - c.opened_at)
        if not c.open or age <= p85 or history[c.area][c.author] >= EXPERT_MIN_CHANGES:
            continue
        expert = _expert(history[c.area], c.author, team.members)
        if expert is None:
            continue
        found.append(
            Finding(
                id=finding_id("pairing", c.id, expert),
                kind="pairing",
                severity="medium",
                people=(c.author, expert),
                area=c.area,
                evidence={
                    "open_hours": round(age, 1),
                    "team_p85_cycle_hours": round(p85, 2),
                    "author_changes_in_area": history[c.area][c.author],
                    "expert_changes_in_area": history[c.area][expert],
                },
                change_ids=(c.id,),
            )
        )
    return found


def redistribution(team: TeamActivity) -> list[Finding]:
    heavy = overloaded(team)
    if not heavy:
        return []
    wip = {m: len(v) for m, v in _wip(team).items()}
    mid = median(wip.values())
    history = _authorship(team)
    found = []
    for person in heavy:
        queued = [i for i in team.items if i.assignee == person and i.status == "queued"]
        for item in queued:
            if item.area is None:
                continue
            able = [
                (history[item.area][m], -wip[m], str(m), m)
                for m in team.members
                if m != person and m not in heavy and wip[m] <= mid and history[item.area][m] > 0
            ]
            if not able:
                continue
            changes, _, _, taker = max(able)
            found.append(
                Finding(
                    id=finding_id("redistribution", item.id, taker),
                    kind="redistribution",
                    severity="medium",
                    people=(person, taker),
                    area=item.area,
                    evidence={
                        "from_wip": wip[person],
                        "to_wip": wip[taker],
                        "team_median_wip": mid,
                        "to_changes_in_area": changes,
                    },
                    item_ids=(item.id,),
                    detail={"item_key": item.key},
                )
            )
    return found


def flow_regression(team: TeamActivity) -> list[Finding]:
    if len(team.weeks) <= REGRESSION_WEEKS:
        return []
    trend = window_trend(team.weeks, REGRESSION_WEEKS)
    found = []
    for m in trend.metrics:
        if m.better is not False or m.test is None or m.test.p_value >= REGRESSION_ALPHA:
            continue
        found.append(
            Finding(
                id=finding_id("flow_regression", m.metric),
                kind="flow_regression",
                severity="high" if m.test.p_value < REGRESSION_ALPHA / 10 else "medium",
                people=(),
                area=None,
                evidence={
                    "recent_median": m.recent_median or 0.0,
                    "baseline_median": m.baseline_median or 0.0,
                    "p_value": round(m.test.p_value, 4),
                    "recent_weeks": m.recent_weeks,
                    "baseline_weeks": m.baseline_weeks,
                },
                detail={"metric": m.metric, "direction": m.arrow or ""},
            )
        )
    return found


def team_weeks(changes: Sequence[Change], reviews: Sequence[Review], until: datetime) -> list[Week]:
    """The team's weekly figures (the trends' buckets) from its changes and reviews: the
    ``REGRESSION_WEEKS`` before ``until``'s day and the year before them."""
    days: dict[date, dict[str, Any]] = defaultdict(
        lambda: {"opened": 0, "merged": 0, "reviews": 0, "latency": [], "cycle": []}
    )
    for c in changes:
        days[c.opened_at.date()]["opened"] += 1
        if c.merged_at is not None:
            days[c.merged_at.date()]["merged"] += 1
            days[c.merged_at.date()]["cycle"].append(_hours(c.merged_at - c.opened_at))
        if c.first_review_at is not None:
            days[c.first_review_at.date()]["latency"].append(
                _hours(c.first_review_at - c.opened_at)
            )
    for r in reviews:
        days[r.submitted_at.date()]["reviews"] += 1
    figures = [
        (
            day,
            DeveloperDay(
                commits=0,
                changes_opened=d["opened"],
                changes_merged=d["merged"],
                reviews_given=d["reviews"],
                review_latency_hours_sum=sum(d["latency"]),
                review_latency_count=len(d["latency"]),
                cycle_time_hours=tuple(d["cycle"]),
                cycle_time_p50_hours=None,
                cycle_time_p85_hours=None,
                wip=0,
            ),
        )
        for day, d in days.items()
    ]
    return weekly(figures, until.date(), REGRESSION_WEEKS + BASELINE_WEEKS)


DETECTORS = (
    review_wait,
    reviewer_load,
    wip_overload,
    assigned_while_stale,
    knowledge_silo,
    pairing,
    redistribution,
    flow_regression,
)


def detect(team: TeamActivity) -> list[Finding]:
    """Every detector's findings, in the order of ``KINDS``."""
    return [f for detector in DETECTORS for f in detector(team)]

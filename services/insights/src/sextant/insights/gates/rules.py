"""Quality-gate rules over delivery facts, as pure functions.

Each rule answers ``pass``, ``warn``, ``fail`` or ``unknown`` with a reason a pipeline log
can show and the ids of the facts behind it. ``unknown`` is never a pass: it says the facts
the rule needs have not arrived (no change request carries the SHA yet, no build of it has
finished). The callers read the projections and pass plain values in; nothing here does I/O.

How a change links to a work item: the projections keep no link field, so the rule looks
for a work-item key (``PROJ-123`` by default, the policy's pattern otherwise) in the change
request's title or head branch, the two places teams put it and every source sends. The
pattern is a tenant admin's input, so it is matched by RE2, in time linear in the text: no
pattern can stall the service for the other tenants (Python's ``re`` backtracks, and
``(a+)+$`` on a long title would hold the event loop for ever).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import re2

from sextant.insights.domain import dora

DEFAULT_WORK_ITEM_PATTERN = r"\b[A-Z][A-Z0-9_]+-[0-9]+\b"
WORDED_SEVERITIES = {"critical": 1, "high": 2, "major": 2, "medium": 3, "moderate": 3, "low": 4}
_NUMBERED_SEVERITY = re.compile(r"^(?:sev|p)\s*-?\s*([0-9])$", re.IGNORECASE)


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RuleResult:
    """One rule's answer: what it found, why, and the facts it rests on."""

    rule: str
    outcome: Outcome
    reason: str
    facts: tuple[str, ...] = ()


# facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """A review of the change; ``reviewer`` is the developer id it reads as now."""

    id: str
    reviewer: UUID | None
    is_bot: bool
    state: str
    submitted_at: datetime


@dataclass(frozen=True)
class Change:
    """The change request a SHA belongs to; ``author`` is the developer id it reads as now."""

    id: UUID
    author: UUID | None
    title: str
    head_branch: str
    reviews: tuple[Review, ...] = ()
    lines_changed: int | None = None


@dataclass(frozen=True)
class Build:
    id: UUID
    name: str
    status: str
    finished_at: datetime


@dataclass(frozen=True)
class Incident:
    """An incident and the service it is on (its tool's, or the blamed deployment's)."""

    id: UUID
    service: str | None
    severity: str | None
    opened_at: datetime
    resolved_at: datetime | None


# reviews --------------------------------------------------------------------------------


def approvers(change: Change) -> dict[UUID, Review]:
    """Who approves the change now: each person's latest approving or changes-requested
    review (a comment decides nothing), approvals only, bots and the author left out."""
    latest: dict[UUID, Review] = {}
    for review in sorted(change.reviews, key=lambda r: (r.submitted_at, r.id)):
        if review.reviewer is None or review.is_bot or review.state == "commented":
            continue
        latest[review.reviewer] = review
    return {
        person: review
        for person, review in latest.items()
        if review.state == "approved" and person != change.author
    }


def reviews_rule(change: Change | None, minimum: int) -> RuleResult:
    """At least ``minimum`` people other than the author (and not bots) approve the change."""
    name = "reviews"
    if change is None:
        return RuleResult(name, Outcome.UNKNOWN, "no change request carries this SHA yet")
    approving = approvers(change)
    facts = tuple(sorted(f"review:{r.id}" for r in approving.values()))
    self_approved = any(
        r.state == "approved" and r.reviewer is not None and r.reviewer == change.author
        for r in change.reviews
    )
    note = " (the author's own approval is not counted)" if self_approved else ""
    counted = f"{len(approving)} approving review(s) of the {minimum} required{note}"
    if len(approving) >= minimum:
        return RuleResult(name, Outcome.PASS, counted, facts)
    return RuleResult(name, Outcome.FAIL, counted, facts)


# linked work item ---------------------------------------------------------------------


@cache
def work_item_keys(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (linear time; no backreferences or lookarounds). Raises
    ``re2.error`` for a pattern RE2 cannot compile."""
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's 422, not a log line
    return re2.compile(pattern, options)


def work_item_rule(change: Change | None, pattern: str = DEFAULT_WORK_ITEM_PATTERN) -> RuleResult:
    """The change names a work item: a key matching ``pattern`` in its title or head branch."""
    name = "work_item"
    if change is None:
        return RuleResult(name, Outcome.UNKNOWN, "no change request carries this SHA yet")
    keys = sorted(
        set(work_item_keys(pattern).findall(change.title))
        | set(work_item_keys(pattern).findall(change.head_branch))
    )
    if keys:
        return RuleResult(
            name,
            Outcome.PASS,
            f"linked to {', '.join(keys)}",
            tuple(f"work_item:{k}" for k in keys),
        )
    return RuleResult(
        name,
        Outcome.FAIL,
        "no work-item key in the title or the head branch",
        (f"change_request:{change.id}",),
    )


# builds ------------------------------------------------------------------------------


def builds_rule(builds: Sequence[Build]) -> RuleResult:
    """Every build of the SHA is green: the latest run of each build name succeeded."""
    name = "builds"
    if not builds:
        return RuleResult(name, Outcome.UNKNOWN, "no build of this SHA has finished yet")
    latest: dict[str, Build] = {}
    for build in sorted(builds, key=lambda b: (b.finished_at, b.id)):
        latest[build.name] = build
    red = sorted((b for b in latest.values() if b.status != "success"), key=lambda b: b.name)
    if red:
        listed = ", ".join(f"{b.name} {b.status}" for b in red)
        return RuleResult(name, Outcome.FAIL, listed, tuple(f"build:{b.id}" for b in red))
    facts = tuple(f"build:{b.id}" for b in sorted(latest.values(), key=lambda b: b.name))
    return RuleResult(name, Outcome.PASS, f"{len(latest)} build(s) green", facts)


# size ----------------------------------------------------------------------------------


def size_rule(change: Change | None, warn_over: int) -> RuleResult:
    """A change over ``warn_over`` changed lines is a warning, never a failure."""
    name = "size"
    if change is None or change.lines_changed is None:
        return RuleResult(name, Outcome.UNKNOWN, "the change's line count is not known")
    facts = (f"change_request:{change.id}",)
    if change.lines_changed > warn_over:
        reason = f"{change.lines_changed} lines changed, over {warn_over}"
        return RuleResult(name, Outcome.WARN, reason, facts)
    return RuleResult(name, Outcome.PASS, f"{change.lines_changed} lines changed", facts)


# incidents -----------------------------------------------------------------------------


def severity_rank(severity: str | None) -> int | None:
    """Lower is more severe: ``SEV0`` → 0, ``SEV1``/``P1``/``critical`` → 1, ``SEV2``/``high`` → 2, …;
    None for a severity that reads as neither."""
    if severity is None:
        return None
    text = severity.strip().lower()
    numbered = _NUMBERED_SEVERITY.match(text)
    if numbered:
        return int(numbered.group(1))
    return WORDED_SEVERITIES.get(text)


def same_service(repository: str, service: str | None) -> bool:
    """A repository ``octo-org/api`` and a service ``api`` are the same (as in DORA)."""
    if not service:
        return False
    short = repository.rsplit("/", 1)[-1].strip().lower()
    return service.rsplit("/", 1)[-1].strip().lower() == short


def incidents_rule(
    incidents: Iterable[Incident], repository: str, at_least: str, now: datetime
) -> RuleResult:
    """No incident of severity ``at_least`` or worse is open on the repository's service
    at ``now``; an open one whose severity reads as nothing is a warning."""
    name = "incidents"
    threshold = severity_rank(at_least)
    if threshold is None:
        raise ValueError(f"{at_least!r} is not a severity")
    open_now = sorted(
        (
            i
            for i in incidents
            if same_service(repository, i.service)
            and i.opened_at <= now
            and (i.resolved_at is None or i.resolved_at > now)
        ),
        key=lambda i: (i.opened_at, i.id),
    )
    ranks = {i.id: severity_rank(i.severity) for i in open_now}
    blocking = [i for i in open_now if (rank := ranks[i.id]) is not None and rank <= threshold]
    unread = [i for i in open_now if ranks[i.id] is None]
    if blocking:
        listed = ", ".join(f"{i.severity} since {i.opened_at.isoformat()}" for i in blocking)
        return RuleResult(
            name,
            Outcome.FAIL,
            f"open incident(s) of {at_least} or worse: {listed}",
            tuple(f"incident:{i.id}" for i in blocking),
        )
    if unread:
        return RuleResult(
            name,
            Outcome.WARN,
            "open incident(s) of a severity that reads as none of SEV1-9/P1-9/critical..low",
            tuple(f"incident:{i.id}" for i in unread),
        )
    return RuleResult(name, Outcome.PASS, f"no open incident of {at_least} or worse")


# the delivery budget (DORA) ------------------------------------------------------------


def delivery_budget_rule(
    definition: dora.Definition,
    deployments: Sequence[dora.Deployment],
    incidents: Sequence[dora.Incident],
    since: datetime,
    until: datetime,
    max_change_failure_rate: float | None,
    max_recovery_hours: float | None,
) -> RuleResult:
    """The service's change failure rate and median failed-deployment recovery (time to
    restore, as ``definition`` measures it) over ``[since, until)`` stay within budget.
    Deployments and incidents are one service's, keyed as :func:`dora.compute` wants."""
    name = "delivery_budget"
    report = dora.compute(
        definition,
        deployments=deployments,
        changes=(),
        incidents=incidents,
        since=since,
        until=until,
    )
    rate = report.change_failure_rate
    if rate.value is None:
        return RuleResult(
            name, Outcome.UNKNOWN, "no production deployment of the service in the window"
        )
    caused = dora.attribute(incidents, deployments, report.attribution_window)
    failed = sorted({str(d.id) for d in caused.values() if since <= d.succeeded_at < until})
    facts = tuple(f"deployment:{d}" for d in failed)
    over: list[str] = []
    stated = f"{definition.id}: change failure rate {rate.numerator}/{rate.denominator}"
    if max_change_failure_rate is not None and rate.value > max_change_failure_rate:
        over.append(f"change failure rate {rate.value:.0%} over {max_change_failure_rate:.0%}")
    median = report.time_to_restore.distribution.median_seconds
    if max_recovery_hours is not None and median is not None:
        stated += f", median recovery {median / 3600:.1f} h"
        if median > max_recovery_hours * 3600:
            over.append(f"median recovery {median / 3600:.1f} h over {max_recovery_hours:g} h")
    if over:
        return RuleResult(name, Outcome.FAIL, f"{definition.id}: {'; '.join(over)}", facts)
    return RuleResult(name, Outcome.PASS, f"{stated}, within budget", facts)


# freeze windows -----------------------------------------------------------------------


@dataclass(frozen=True)
class DatedFreeze:
    """From ``starts`` to ``ends`` (wall-clock times in ``time_zone``), e.g. a holiday."""

    name: str
    time_zone: str
    starts: datetime
    ends: datetime


@dataclass(frozen=True)
class WeeklyFreeze:
    """Every week on ``weekdays`` (0 = Monday) from ``starts`` to ``ends`` local time; an end
    at or before the start runs past midnight into the next day."""

    name: str
    time_zone: str
    weekdays: frozenset[int]
    starts: time
    ends: time


Freeze = DatedFreeze | WeeklyFreeze


def in_freeze(freeze: Freeze, now: datetime) -> bool:
    """Whether the aware moment ``now`` falls in ``freeze``, read on its zone's wall clock."""
    local = now.astimezone(ZoneInfo(freeze.time_zone))
    wall = local.replace(tzinfo=None)
    if isinstance(freeze, DatedFreeze):
        return freeze.starts <= wall < freeze.ends
    today, clock = wall.weekday(), wall.time()
    if freeze.starts < freeze.ends:
        return today in freeze.weekdays and freeze.starts <= clock < freeze.ends
    yesterday = (wall.date() - timedelta(days=1)).weekday()
    return (today in freeze.weekdays and clock >= freeze.starts) or (
        yesterday in freeze.weekdays and clock < freeze.ends
    )


def freeze_rule(freezes: Sequence[Freeze], now: datetime) -> RuleResult:
    """No deployment during a freeze window."""
    name = "freeze"
    active = [f for f in freezes if in_freeze(f, now)]
    if active:
        names = ", ".join(f"{f.name} ({f.time_zone})" for f in active)
        return RuleResult(
            name, Outcome.FAIL, f"in freeze: {names}", tuple(f"freeze:{f.name}" for f in active)
        )
    return RuleResult(name, Outcome.PASS, f"outside the {len(freezes)} freeze window(s)")


# the verdict ---------------------------------------------------------------------------


def enforce(result: RuleResult, blocking: bool) -> RuleResult:
    """An advisory rule's failure is a warning (an unknown stays unknown, but blocks nothing)."""
    if not blocking and result.outcome is Outcome.FAIL:
        return RuleResult(result.rule, Outcome.WARN, result.reason, result.facts)
    return result


def verdict(results: Sequence[tuple[RuleResult, bool]]) -> Outcome:
    """The gate's answer over ``(result, blocking)`` pairs: fail if any rule fails; else
    unknown if a blocking rule lacks its facts; else warn if any warns (or an advisory rule
    lacks its facts); else pass."""
    outcomes = [(r.outcome, blocking) for r, blocking in results]
    if any(o is Outcome.FAIL for o, _ in outcomes):
        return Outcome.FAIL
    if any(o is Outcome.UNKNOWN and blocking for o, blocking in outcomes):
        return Outcome.UNKNOWN
    if any(o in (Outcome.WARN, Outcome.UNKNOWN) for o, _ in outcomes):
        return Outcome.WARN
    return Outcome.PASS

"""What verdicts change: the acceptance model that ranks suggestions, and the cooldown that
keeps a rejected suggestion from coming back.

**Acceptance** per (tenant, kind) is Beta-Bernoulli: a confirmation is a success, a
rejection a failure, a snooze neither (it says "not now", not "wrong"). With the uniform
prior Beta(1, 1) the expected acceptance is ``(1 + confirmed) / (2 + confirmed +
rejected)``: 0.5 for a kind nobody has judged, moving with every verdict and never to 0 or
1 on a few. A suggestion's **rank** is that expectation times its severity's weight (high
3, medium 2, low 1), so a high-severity kind the team keeps rejecting can fall below a
medium one it keeps confirming, but never vanishes.

**Cooldown**: a new suggestion is not made while one of the same kind for the same people
and area is open or snoozed, or was rejected within the cooldown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from sextant.insights.health.suggestions import Draft

SEVERITY_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 3.0}
PRIOR_CONFIRMED = 1.0
PRIOR_REJECTED = 1.0


def acceptance(confirmed: int, rejected: int) -> float:
    """The posterior mean of a kind's acceptance rate."""
    return (PRIOR_CONFIRMED + confirmed) / (PRIOR_CONFIRMED + PRIOR_REJECTED + confirmed + rejected)


def rank(severity: str, confirmed: int, rejected: int) -> float:
    return round(SEVERITY_WEIGHT[severity] * acceptance(confirmed, rejected), 6)


@dataclass(frozen=True)
class Held:
    """A suggestion already made that holds back a repeat (open, snoozed or rejected)."""

    kind: str
    people: frozenset[UUID]
    area: str | None


def key(kind: str, people: Iterable[UUID], area: str | None) -> Held:
    return Held(kind, frozenset(people), area)


def fresh(drafts: Sequence[Draft], held: Iterable[Held]) -> list[Draft]:
    """The drafts that repeat nothing held back (nor each other)."""
    seen = set(held)
    out = []
    for d in drafts:
        k = key(d.kind, d.people, d.area)
        if k in seen:
            continue
        seen.add(k)
        out.append(d)
    return out

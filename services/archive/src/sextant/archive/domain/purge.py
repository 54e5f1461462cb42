"""Which archived objects may have their hot rows purged: the object's events are all
past their class's hot period, and no legal hold covers any of them. The object itself
must then verify (the shell re-reads it) before ``PurgeRequested`` goes out: nothing
unverified is ever purged.

A hold covers an object when their time ranges meet and its scope does: a tenant hold
always, a workspace hold when one of the object's events is that workspace's, a developer
hold always (who an event is about lies inside its data; the archive does not parse it,
so it holds back rather than guess).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sextant.archive.domain.retention import DataClass, Periods

TOPIC_CLASSES: Mapping[str, DataClass] = {
    "sextant.activity": "activity_events",
    "sextant.activity.attributed": "activity_events",
    "sextant.config": "audit_log",
    "sextant.notifications": "notifications",
    "sextant.reports": "rendered_reports",
}
"""The data class a topic's events belong to; a topic not named here is never purged
(identity, forecast, insights and lifecycle events are what projections are rebuilt from)."""


@dataclass(frozen=True)
class Hold:
    scope_kind: str  # tenant, workspace, developer
    scope_id: UUID | None
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True)
class ArchivedObject:
    """What the decision needs of one manifest entry."""

    topic: str
    first_at: datetime
    last_at: datetime
    workspaces: frozenset[UUID]


@dataclass(frozen=True)
class Decision:
    purge: bool
    reason: str


def _meets(hold: Hold, first_at: datetime, last_at: datetime) -> bool:
    """Whether [starts_at, ends_at) meets [first_at, last_at]."""
    after_start = hold.starts_at is None or last_at >= hold.starts_at
    before_end = hold.ends_at is None or first_at < hold.ends_at
    return after_start and before_end


def covering_hold(target: ArchivedObject, holds: Iterable[Hold]) -> Hold | None:
    """The first hold that covers any of the object's events."""
    for hold in holds:
        if not _meets(hold, target.first_at, target.last_at):
            continue
        if hold.scope_kind != "workspace" or hold.scope_id in target.workspaces:
            return hold
    return None


def decide(
    target: ArchivedObject,
    periods: Mapping[DataClass, Periods],
    holds: Iterable[Hold],
    now: datetime,
) -> Decision:
    """Whether the object's hot rows may be purged (once it verifies), and why (not)."""
    data_class = TOPIC_CLASSES.get(target.topic)
    if data_class is None:
        return Decision(False, f"{target.topic} belongs to no purged data class")
    hot_until = target.last_at + timedelta(days=periods[data_class].hot_days)
    if now < hot_until:
        return Decision(False, f"{data_class} stays hot until {hot_until.isoformat()}")
    hold = covering_hold(target, holds)
    if hold is not None:
        scope = hold.scope_kind if hold.scope_id is None else f"{hold.scope_kind}:{hold.scope_id}"
        return Decision(False, f"a legal hold on {scope} covers it")
    return Decision(True, f"{data_class} is past its hot period")

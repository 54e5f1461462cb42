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
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sextant.archive.domain.retention import DataClass, Periods

TOPIC_CLASSES: Mapping[str, tuple[DataClass, ...]] = {
    # ingest's raw deliveries became the activity events of their time
    "sextant.activity": ("activity_events", "raw_deliveries"),
    # the projections (work items, changes, deployments) are built from attributed activity
    "sextant.activity.attributed": (
        "activity_events",
        "work_items",
        "change_requests",
        "deployments",
    ),
    "sextant.config": ("audit_log",),
    "sextant.notifications": ("notifications",),
    "sextant.reports": ("rendered_reports",),
}
"""The data classes whose hot rows a topic's archived events stand for, each purged once
its own hot period is over; a topic not named here is never purged (identity, forecast,
insights and lifecycle events are what projections are rebuilt from). Daily rollups are
no class: they stay hot."""


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


def meeting(holds: Iterable[Hold], target: ArchivedObject) -> list[Hold]:
    """The holds whose time range meets the object's (a request names them: the owners
    keep the rows they cover)."""
    return [h for h in holds if _meets(h, target.first_at, target.last_at)]


def decide(
    target: ArchivedObject,
    periods: Mapping[DataClass, Periods],
    holds: Iterable[Hold],
    now: datetime,
    data_class: DataClass | None = None,
) -> Decision:
    """Whether the object's hot rows of ``data_class`` (by default its topic's first) may
    be purged (once it verifies), and why (not)."""
    classes = TOPIC_CLASSES.get(target.topic, ())
    if not classes:
        return Decision(False, f"{target.topic} belongs to no purged data class")
    if data_class is None:
        data_class = classes[0]
    elif data_class not in classes:
        return Decision(False, f"{target.topic} holds no {data_class}")
    hot_until = target.last_at + timedelta(days=periods[data_class].hot_days)
    if now < hot_until:
        return Decision(False, f"{data_class} stays hot until {hot_until.isoformat()}")
    hold = covering_hold(target, holds)
    if hold is not None:
        scope = hold.scope_kind if hold.scope_id is None else f"{hold.scope_kind}:{hold.scope_id}"
        return Decision(False, f"a legal hold on {scope} covers it")
    return Decision(True, f"{data_class} is past its hot period")


def cold_until(
    topic: str, last_at: datetime, periods: Mapping[DataClass, Periods]
) -> datetime | None:
    """Until when an object of the topic whose last event is ``last_at`` is kept cold: the
    longest cold period of the classes its topic stands for; None for a topic of no class
    (kept for good)."""
    classes = TOPIC_CLASSES.get(topic, ())
    if not classes:
        return None
    return max(last_at + timedelta(days=periods[c].cold_days) for c in classes)


def expiry(
    target: ArchivedObject,
    periods: Mapping[DataClass, Periods],
    holds: Iterable[Hold],
    now: datetime,
) -> Decision:
    """Whether the object itself may be deleted from the store: every class its topic
    stands for is past its cold period (the longest wins), and no hold covers it."""
    kept_until = cold_until(target.topic, target.last_at, periods)
    if kept_until is None:
        return Decision(False, f"{target.topic} belongs to no data class: kept")
    if now < kept_until:
        return Decision(False, f"kept cold until {kept_until.isoformat()}")
    hold = covering_hold(target, holds)
    if hold is not None:
        scope = hold.scope_kind if hold.scope_id is None else f"{hold.scope_kind}:{hold.scope_id}"
        return Decision(False, f"a legal hold on {scope} covers it")
    return Decision(True, "past its cold period")


def scope_hold(scope_kind: str, workspace: UUID | None, holds: Iterable[Hold]) -> Hold | None:
    """The first hold that stops the purge of a soft-deleted tenant or workspace: for a
    tenant any hold (every one names some of its rows); for a workspace a tenant or a
    developer hold (who a row is about may be in it) or a hold on that workspace. A time
    range does not narrow it: a scope purge deletes rows of every time."""
    for hold in holds:
        if scope_kind == "tenant" or hold.scope_kind != "workspace":
            return hold
        if hold.scope_id == workspace:
            return hold
    return None


WORK_ITEM_TOPICS: tuple[str, ...] = ("sextant.activity", "sextant.activity.attributed")
"""The topics a work item's events are on: their copy up to the cut-off must verify before
the items deleted in their tool by then are purged."""


def deleted_items_cutoff(now: datetime, grace_days: int) -> datetime:
    """Items deleted in their tool at or before this may be purged: the grace counted back
    from ``now``, down to the start of that UTC day (one request a day, not one a run)."""
    moment = (now - timedelta(days=grace_days)).astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def holds_meeting_lives(holds: Iterable[Hold], cutoff: datetime) -> frozenset[Hold]:
    """The holds the owners must apply to items deleted by ``cutoff``: every one that
    starts by then (an item's life, however long, ends at its deletion)."""
    return frozenset(h for h in holds if h.starts_at is None or h.starts_at <= cutoff)


def deleted_items_due(
    last_cutoff: datetime | None,
    last_holds: frozenset[Hold],
    cutoff: datetime,
    holds: frozenset[Hold],
) -> bool:
    """Whether to ask again: the cut-off moved on, or the holds changed since the last
    request (a hold released, its items may go now; a new one, the owners must keep)."""
    return last_cutoff is None or cutoff > last_cutoff or holds != last_holds

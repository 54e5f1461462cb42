"""What every tool's normalizer shares: the result shape, payload access that says what
is missing, timestamps in the tools' several formats, and deterministic event ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sextant.contracts import uuid5
from sextant.contracts.events.activity import WorkItem, WorkItemResolved, WorkItemTransitioned
from sextant.contracts.events.common import Actor
from sextant.contracts.registry import EventModel, type_of
from sextant.ingest.mapping import MappingRules

# Event ids are uuid5(source, type, entity, version): the same fact, whether it comes from a
# webhook, its redelivery, a backfill or a replay, gets the same id, and downstream inboxes
# drop the copy. Namespace: uuid5(NAMESPACE_URL, "https://sextant.dev/ingest/facts").
FACT_NAMESPACE = UUID("0f2bd1a4-44b5-5c2c-9a46-6f7f0b3c9d21")


class Malformed(Exception):
    """The payload lacks or garbles something the event needs; the message names it."""


@dataclass(frozen=True)
class Context:
    source_id: UUID
    rules: MappingRules


@dataclass(frozen=True)
class Fact:
    """One canonical event, the entity it orders under, and the version that makes it unique."""

    event: EventModel
    entity: str
    version: str

    def event_id(self, source_id: UUID) -> UUID:
        name = f"{source_id}|{type_of(type(self.event))}|{self.entity}|{self.version}"
        return uuid5(FACT_NAMESPACE, name)


@dataclass
class Normalized:
    """Either facts, or why the delivery was deliberately ignored."""

    facts: list[Fact] = field(default_factory=list)
    ignored: str | None = None

    @classmethod
    def ignore(cls, reason: str) -> Normalized:
        return cls(ignored=reason)


def need(payload: Any, path: str) -> Any:
    """``payload["a"]["b"]`` for ``"a.b"``, or :class:`Malformed` naming the missing part."""
    if type(payload) is dict and "." not in path and (value := payload.get(path)) is not None:
        return value  # one key, present: most calls, taken without the walk
    value = payload
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(value, dict) or value.get(part) is None:
            raise Malformed(f"the payload has no {'.'.join(walked)}")
        value = value[part]
    return value


def maybe(payload: Any, path: str) -> Any:
    """Like :func:`need`, but None when any part is missing."""
    try:
        return need(payload, path)
    except Malformed:
        return None


# 2013-12-03T17:15:43Z, 2015-05-17 18:08:09 UTC, 2021-04-28 21:50:00 +0200,
# 2019-01-13T10:56:13.000+0000: what GitHub, GitLab and Jira send.
_LOOSE_TIMESTAMP = re.compile(
    r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d{1,6})?)\s*(Z|UTC|[+-]\d\d:?\d\d)?$"
)


def timestamp(value: Any, what: str) -> datetime:
    """ISO 8601 (with ``Z``, ``+0000`` or GitLab's ``… UTC``) or epoch milliseconds, as UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what} is not a timestamp")
    match = _LOOSE_TIMESTAMP.match(value.strip())
    if match is None:
        raise Malformed(f"{what} is not an ISO 8601 timestamp: {value[:40]!r}")
    day, clock, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "UTC") else zone
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        raise Malformed(f"{what} is not an ISO 8601 timestamp: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def maybe_timestamp(value: Any, what: str) -> datetime | None:
    return None if value in (None, "") else timestamp(value, what)


def open_or_closed(
    item: WorkItem,
    *,
    closed: bool,
    open_status: str,
    by: Actor | None,
    at: datetime,
    version: str,
    resolution: str | None = None,
) -> Normalized:
    """A two-state issue (GitHub, GitLab) closed — a transition to done and a resolution —
    or reopened, back to to-do."""
    entity = f"work_item:{item.key}"
    moved = WorkItemTransitioned(
        work_item=item,
        from_status=open_status if closed else "closed",
        to_status=item.status,
        from_category="todo" if closed else "done",
        to_category=item.status_category,
        actor=by,
        occurred_at=at,
    )
    facts = [Fact(moved, entity, version)]
    if closed:
        resolved = WorkItemResolved(work_item=item, resolution=resolution, actor=by, occurred_at=at)
        facts.append(Fact(resolved, entity, version))
    return Normalized(facts)

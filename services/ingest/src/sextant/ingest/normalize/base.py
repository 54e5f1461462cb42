"""What every tool's normalizer shares: the result shape, payload access that says what
is missing, timestamps in the tools' several formats, and deterministic event ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, get_args
from uuid import UUID

from pydantic import BaseModel

from sextant.contracts import uuid5
from sextant.contracts.events.activity import (
    CommitsSource,
    WorkItem,
    WorkItemResolved,
    WorkItemTransitioned,
)
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
    # The source can list a change request's commits through its tool's API (it has
    # credentials): a merge a webhook brings is then ``pending``, not ``head_only``.
    lists_commits: bool = False


def merged_commits(
    ctx: Context, payload: Any, head_sha: str | None
) -> tuple[list[str], CommitsSource]:
    """A merge's commit SHAs and what they are (``ChangeRequestMerged.commits_source``):
    the tool's list when a backfill or the commit lister passed it
    (``sextant.commit_shas``), else the head SHA alone — which ties the branch's pushes —
    until a list comes (``pending``), or for good when the source cannot list them."""
    listed = maybe(payload, "sextant.commit_shas")
    if isinstance(listed, list) and listed:
        return list(listed), "listed"
    return ([head_sha] if head_sha else []), "pending" if ctx.lists_commits else "head_only"


@dataclass(frozen=True)
class Fact:
    """One canonical event, the entity it orders under, and the version that makes it unique."""

    event: EventModel
    entity: str
    version: str

    def event_id(self, source_id: UUID) -> UUID:
        name = f"{source_id}|{type_of(type(self.event))}|{self.entity}|{self.version}"
        return uuid5(FACT_NAMESPACE, name)


# Fields whose values a source's mapping rules decide (mapping.py), wherever they sit in an
# event. A replay compares them with what a delivery meant when it was stored: a mapping
# fix that changes them must reach downstream as a revision of the facts, while an
# unchanged fact is not published again.
MAPPED_FIELDS = frozenset({"item_type", "is_production", "is_bot", "into_default_branch"})


def mapped_values(event: BaseModel) -> list[str]:
    """``path=value`` for every mapping-decided field in ``event``, sorted (list positions
    are left out of the paths, so an order that differs between a webhook and a backfill
    does not count as a change)."""
    found: list[str] = []
    _collect_mapped(event, "", found)
    found.sort()
    return found


def _collect_mapped(model: BaseModel, path: str, found: list[str]) -> None:
    for name, holds_models in _walked_fields(type(model)):
        value = getattr(model, name)
        if name in MAPPED_FIELDS:
            found.append(f"{path}{name}={value}")
        elif holds_models and value is not None:
            for inner in value if isinstance(value, list | tuple) else (value,):
                if isinstance(inner, BaseModel):
                    _collect_mapped(inner, f"{path}{name}.", found)


@cache
def _walked_fields(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """A model's fields worth visiting: mapped ones, and those that can hold models (so
    lists of strings, like commit SHAs, are never walked)."""
    return tuple(
        (name, name not in MAPPED_FIELDS)
        for name, info in model.model_fields.items()
        if name in MAPPED_FIELDS or _holds_models(info.annotation)
    )


def _holds_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in get_args(annotation))


def meaning_of(facts: list[tuple[UUID, EventModel]]) -> bytes | None:
    """A short digest of the facts (by id) and what mapping rules decided in each: stored
    with a delivery, so a replay can tell which deliveries a mapping fix changed."""
    if not facts:
        return None
    text = "\n".join(f"{event_id} {' '.join(mapped_values(event))}" for event_id, event in facts)
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


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


# The instants a tool can mean: anything outside is a garbled value (year 1, year 9999 at
# -14:00, 1e20 milliseconds), which Python cannot even hold in UTC at the edges, and
# which would overflow the date arithmetic of every consumer downstream.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_EARLIEST_MS, _LATEST_MS = EARLIEST.timestamp() * 1000, LATEST.timestamp() * 1000


def plausible(at: datetime, what: str) -> datetime:
    """``at`` in UTC, or :class:`Malformed` when it lies outside 1970-2200 (or cannot be
    held in UTC at all: year 9999 at -14:00)."""
    try:
        utc = at.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise Malformed(f"{what} is out of range (1970-2200): {at.isoformat()[:40]!r}")
    return utc


def timestamp(value: Any, what: str) -> datetime:
    """ISO 8601 (with ``Z``, ``+0000`` or GitLab's ``… UTC``) or epoch milliseconds, as UTC,
    within 1970-2200 (:func:`plausible`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not _EARLIEST_MS <= value < _LATEST_MS:  # also false for NaN
            raise Malformed(f"{what} is out of range (1970-2200): {value!r:.40}")
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
    return plausible(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), what)


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


def version_time(at: datetime) -> str:
    """A time as fact versions spell it: UTC, whole seconds.

    One instant comes spelled several ways — GitLab's webhook ``2024-01-02 03:04:05 UTC``,
    its REST API ``2024-01-02T03:04:05.123Z``, Jira's epoch milliseconds — and a version
    that kept the text or the sub-seconds would make a webhook and a backfill record of one
    fact two events. Sub-seconds are cut, as the tools that send whole seconds cut them; a
    whole-second UTC time reads as it always did, so webhook event ids stay the same.
    """
    return at.astimezone(UTC).replace(microsecond=0).isoformat()

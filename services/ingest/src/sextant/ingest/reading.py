"""One delivery's payload → its outcome and the events to stage: the step a webhook, a
replay and a backfill share, so the three always agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from sextant.contracts import uuid5, uuid7
from sextant.contracts.events.platform import NotificationRaised
from sextant.ingest.db.repository import CommitListAsk, OutboxRow, SourceRow
from sextant.ingest.normalize import Context, Malformed, Normalized, normalize
from sextant.ingest.normalize.base import FACT_NAMESPACE, meaning_of
from sextant.runtime.outbox import Outbox, Staged

log = structlog.get_logger()

ADMINS = ["tenant_admin"]


@dataclass(frozen=True)
class Read:
    """What one delivery became: its outcome, the events to stage (facts, and a
    notification when it could not be read), and its meaning: a digest of the facts and
    the values mapping rules decided in them, which a replay compares."""

    outcome: str  # normalized | ignored | failed
    reason: str | None
    facts: int
    events: list[Staged]
    meaning: bytes | None = None
    # ``events`` as outbox rows (event id, topic, key, envelope JSON), written here, in
    # the delivery's own request, so a value no row can hold fails this delivery alone
    rows: list[OutboxRow] = field(default_factory=list)


def read_delivery(
    outbox: Outbox,
    source: SourceRow,
    ctx: Context,
    delivery_id: str,
    event: str | None,
    payload: Any,
) -> Read:
    """Normalize a parsed delivery; the same for a webhook and for a replay. A delivery
    whose facts hold what the database cannot store (a NUL character, an integer past
    64 bits) is unreadable like a malformed one: kept, and its admins told."""
    try:
        result = normalize(source.kind, ctx, event, payload)  # type: ignore[arg-type]
        outcome, reason = ("ignored" if result.ignored else "normalized"), result.ignored
    except Malformed as exc:
        result, outcome, reason = Normalized(), "failed", str(exc)
    facts = [(fact.event_id(source.id), fact) for fact in result.facts]
    events = [
        outbox.stage(
            fact.event,
            tenant_id=source.tenant_id,
            workspace_id=source.workspace_id,
            entity=fact.entity,
            event_id=event_id,
        )
        for event_id, fact in facts
    ]
    rows, unstorable = _outbox_rows(events)
    if unstorable is not None:
        facts, events, outcome, reason = [], [], "failed", unstorable
    if reason is not None and "\x00" in reason:  # the reason is stored as text too
        reason = reason.replace("\x00", "\\u0000")
    if outcome == "failed":
        log.warning("ingest.delivery_unreadable", source=str(source.id), reason=reason)
        events.append(
            notice(
                outbox,
                source,
                "error",
                f"A {source.kind} delivery to '{source.name}' could not be read",
                f"Delivery {delivery_id}: {reason}. It is stored; replay it after a fix.",
                # the same failure read again (a replay before the fix) is not news
                notice_id=uuid5(FACT_NAMESPACE, f"{source.id}|unreadable|{delivery_id}|{reason}"),
            )
        )
        rows = Outbox.rows(events)  # the notice's: the source's own text, storable
    meaning = meaning_of([(event_id, fact.event) for event_id, fact in facts])
    return Read(outcome, reason, len(facts), events, meaning, rows)


_INT64 = range(-(2**63), 2**63)


def _outbox_rows(events: list[Staged]) -> tuple[list[OutboxRow], str | None]:
    """The events' outbox rows, or why they cannot be stored, naming the field.

    JSON escapes a NUL as ``\\u0000``, which PostgreSQL's jsonb refuses; a search of the
    written text finds one cheaply, and only then is the event walked, to name the field
    (the text also matches an escaped backslash before ``u0000``, which the walk tells
    apart). orjson refuses integers past 64 bits."""
    refused: TypeError | None = None
    try:
        rows = Outbox.rows(events)
    except TypeError as exc:  # orjson: "Integer exceeds 64-bit range"
        rows, refused = [], exc
    else:
        if not any("\\u0000" in row[3] for row in rows):
            return rows, None
    for staged in events:
        for path, value in _leaves(staged.envelope.model_dump(mode="json")):
            if isinstance(value, str) and "\x00" in value:
                return [], f"{path} holds a NUL character (\\u0000), which cannot be stored"
            if isinstance(value, int) and value not in _INT64:
                return [], f"{path} is out of range: {str(value)[:40]} is past 64 bits"
    if refused is not None:
        raise refused
    return rows, None


def _leaves(data: Any) -> list[tuple[str, Any]]:
    """Every scalar in an event's JSON-ready data with its dotted path (iteratively: an
    event is shallow, but no walk here should depend on the recursion limit)."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), v) for key, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{n}]", v) for n, v in enumerate(value))
        else:
            found.append((path, value))
    return found


MERGED = "sextant.activity.change_request.merged.v1"


def commit_list_ask(source: SourceRow, read: Read) -> CommitListAsk | None:
    """The merge among the read's facts whose commits the source's API is to list (its
    normalizer said ``pending``), if any: GitHub names the repository by owner/name, GitLab
    by project id."""
    for staged in read.events:
        data = staged.envelope.data
        if staged.envelope.type == MERGED and data.get("commits_source") == "pending":
            change = data["change_request"]
            repository = change["repository"]
            name = repository["full_name"] if source.kind == "github" else repository["external_id"]
            return CommitListAsk(source.id, str(name), int(change["number"]))
    return None


def as_revision(read: Read, revision: UUID) -> list[Staged]:
    """The read's facts as a revision of what they said before: the same events under new
    ids (uuid5 of the fact's id and ``revision``), so downstream inboxes take them as news
    and projections replace what the facts had said; keys, and so per-entity order, stay."""
    return [
        Staged(
            staged.envelope.model_copy(
                update={"id": uuid5(FACT_NAMESPACE, f"{staged.envelope.id}|revision|{revision}")}
            ),
            staged.topic,
            staged.key,
        )
        for staged in read.events
    ]


def notice(
    outbox: Outbox,
    source: SourceRow,
    severity: str,
    title: str,
    body: str,
    *,
    notice_id: UUID | None = None,
) -> Staged:
    """A notification for the tenant's admins about one source; ``notice_id`` when the
    same notice raised twice must reach them once."""
    notice = NotificationRaised(
        notification_id=notice_id or uuid7(),
        severity=severity,
        audience=ADMINS,
        title=title[:200],
        body=body,
        link=f"/v1/sources/{source.id}",
        raised_by="ingest",
    )
    return outbox.stage(
        notice,
        tenant_id=source.tenant_id,
        workspace_id=source.workspace_id,
        entity=f"source:{source.id}",
        event_id=notice_id,
    )

"""One delivery's payload → its outcome and the events to stage: the step a webhook, a
replay and a backfill share, so the three always agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from sextant.contracts import uuid5, uuid7
from sextant.contracts.events.platform import NotificationRaised
from sextant.ingest.db.repository import SourceRow
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


def read_delivery(
    outbox: Outbox,
    source: SourceRow,
    ctx: Context,
    delivery_id: str,
    event: str | None,
    payload: Any,
) -> Read:
    """Normalize a parsed delivery; the same for a webhook and for a replay."""
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
    meaning = meaning_of([(event_id, fact.event) for event_id, fact in facts])
    return Read(outcome, reason, len(result.facts), events, meaning)


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

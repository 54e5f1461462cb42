"""One delivery's payload → its outcome and the events to stage: the step a webhook, a
replay and a backfill share, so the three always agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from sextant.contracts import uuid7
from sextant.contracts.events.platform import NotificationRaised
from sextant.ingest.db.repository import SourceRow
from sextant.ingest.normalize import Context, Malformed, Normalized, normalize
from sextant.runtime.outbox import Outbox, Staged

log = structlog.get_logger()

ADMINS = ["tenant_admin"]


@dataclass(frozen=True)
class Read:
    """What one delivery became: its outcome, and the events to stage (facts, and a
    notification when it could not be read)."""

    outcome: str  # normalized | ignored | failed
    reason: str | None
    facts: int
    events: list[Staged]


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
    events = [
        outbox.stage(
            fact.event,
            tenant_id=source.tenant_id,
            workspace_id=source.workspace_id,
            entity=fact.entity,
            event_id=fact.event_id(source.id),
        )
        for fact in result.facts
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
            )
        )
    return Read(outcome, reason, len(result.facts), events)


def notice(outbox: Outbox, source: SourceRow, severity: str, title: str, body: str) -> Staged:
    """A notification for the tenant's admins about one source."""
    notice = NotificationRaised(
        notification_id=uuid7(),
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
    )

"""Gateway's event handlers. Each runs inside the runtime's transaction with the inbox
already claimed: notifications are stored for the API and the streams, and every
``config.changed`` from any service is appended to its tenant's audit chain — neither for a
purged tenant (its late events are dropped). Both are
:class:`~sextant.runtime.consumer.Batched`: a batch of one tenant's events in order, in one
transaction (a failed batch is handled again one event at a time by the runtime)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import TOPICS, Envelope
from sextant.contracts.events.platform import ConfigChanged, NotificationRaised
from sextant.contracts.topics import CONFIG, NOTIFICATIONS
from sextant.gateway.db import repository
from sextant.gateway.domain.audit import AuditEntry
from sextant.gateway.notifications import CHANNEL
from sextant.gateway.subscriptions import fan_out
from sextant.runtime.consumer import Batched, Handler, each_in_context

log = structlog.get_logger()


async def on_notifications(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Keep a batch of one tenant's notifications, then wake its streams once (NOTIFY is
    delivered at commit, and one wake-up reads all that is new)."""
    stored = False
    for envelope in each_in_context(envelopes):
        stored = await _store_notification(session, envelope) or stored
    if stored:
        await session.execute(
            sa.text("SELECT pg_notify(:channel, :tenant)"),
            {"channel": CHANNEL, "tenant": str(envelopes[0].tenantid)},
        )


async def _store_notification(session: AsyncSession, envelope: Envelope) -> bool:
    """Keep one notification; False if it is not one or was kept before."""
    if envelope.type != "sextant.notifications.raised.v1":
        return False
    raised = NotificationRaised.model_validate(envelope.data)
    seq = await repository.store_notification(
        session,
        envelope.tenantid,
        id=raised.notification_id,
        severity=raised.severity,
        audience=list(raised.audience),
        title=raised.title,
        body=raised.body,
        link=raised.link,
        raised_by=raised.raised_by,
        created_at=envelope.time,
    )
    return seq is not None


async def on_config_changed(session: AsyncSession, envelope: Envelope) -> None:
    """Append the change to the audit chain of the tenant it belongs to."""
    if envelope.type != "sextant.config.changed.v1":
        return
    change = ConfigChanged.model_validate(envelope.data)
    await repository.append_audit(
        session,
        AuditEntry(
            tenant_id=envelope.tenantid,
            seq=0,  # set by the append, under the chain's lock
            event_id=envelope.id,
            at=envelope.time,
            service=envelope.source.rsplit("/", 1)[-1],
            actor=change.actor,
            action=change.action,
            target_type=change.target_type,
            target_id=change.target_id,
            before=change.before,
            after=change.after,
            request_id=change.request_id,
        ),
    )


async def _purged(session: AsyncSession, envelopes: Sequence[Envelope]) -> bool:
    """Whether the batch's tenant was purged: its late events must not bring back what
    the purge deleted (a notification, an audit chain), so they are dropped."""
    tenant = envelopes[0].tenantid
    if not await repository.tenant_purged(session, tenant):
        return False
    log.info("gateway.purged_tenant_events_dropped", tenant=str(tenant), events=len(envelopes))
    return True


async def on_config_batch(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Audit a batch of one tenant's config changes, then queue them for its partners."""
    if await _purged(session, envelopes):
        return
    for envelope in each_in_context(envelopes):
        await on_config_changed(session, envelope)
    await fan_out(session, envelopes)


async def on_notifications_batch(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Keep and announce a batch of notifications, then queue them for the partners."""
    if await _purged(session, envelopes):
        return
    await on_notifications(session, envelopes)
    await fan_out(session, envelopes)


async def on_partner_events(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Every other topic concerns the gateway only through its partners' subscriptions."""
    await fan_out(session, envelopes)


HANDLERS: dict[str, Handler] = {
    **{name: Batched(on_partner_events) for name in TOPICS},  # every topic is registered
    NOTIFICATIONS.name: Batched(on_notifications_batch),  # by the imports above
    CONFIG.name: Batched(on_config_batch),
}

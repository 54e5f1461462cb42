"""Reads and writes of partner subscriptions, their deliveries and the delivery queue;
plain values in and out, never a commit. Tenant functions take the tenant and filter on
it (RLS is the second wall); the queue's are the only cross-tenant ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.gateway.db import (
    delivery_queue,
    seal_marks,
    subscription_deliveries,
    subscriptions,
    tenants,
)

# Claims are made one replica at a time (they take milliseconds), so the in-flight count
# each claim reads is the one it leaves: the cap per subscription holds over all replicas.
CLAIM_LOCK = "sextant.gateway.delivery_queue.claim"


@dataclass(frozen=True)
class SubscriptionRow:
    tenant_id: UUID
    id: UUID
    url: str
    description: str
    event_types: list[str]
    sealed_secret: bytes
    status: str
    consecutive_failures: int
    disabled_reason: str | None
    created_by: str
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    tenant_id: UUID
    id: UUID
    subscription_id: UUID
    event_id: UUID
    event_type: str
    body: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


SUBSCRIPTION_COLUMNS = [c for c in subscriptions.c if c.name != "secret"]


def _subscription(row: Any) -> SubscriptionRow:
    return SubscriptionRow(**row._mapping)


def _delivery(row: Any) -> DeliveryRow:
    return DeliveryRow(**row._mapping)


# subscriptions --------------------------------------------------------------------------


async def create_subscription(session: AsyncSession, row: SubscriptionRow) -> SubscriptionRow:
    await session.execute(sa.insert(subscriptions).values(**row.__dict__))
    return row


async def get_subscription(
    session: AsyncSession, tenant_id: UUID, subscription_id: UUID
) -> SubscriptionRow | None:
    """A live (not deleted) subscription of the tenant."""
    s = subscriptions
    row = (
        await session.execute(
            sa.select(*SUBSCRIPTION_COLUMNS).where(
                (s.c.tenant_id == tenant_id)
                & (s.c.id == subscription_id)
                & s.c.deleted_at.is_(None)
            )
        )
    ).first()
    return _subscription(row) if row else None


async def list_subscriptions(
    session: AsyncSession, tenant_id: UUID, *, after: UUID | None, limit: int
) -> list[SubscriptionRow]:
    s = subscriptions
    query = (
        sa.select(*SUBSCRIPTION_COLUMNS)
        .where((s.c.tenant_id == tenant_id) & s.c.deleted_at.is_(None))
        .order_by(s.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(s.c.id > after)
    return [_subscription(r) for r in await session.execute(query)]


async def tenants_after(session: AsyncSession, after: UUID | None, limit: int) -> list[UUID]:
    """Every tenant's id in order, a page at a time (the tenants table has no RLS): how the
    start's sealing pass walks the tenants' subscriptions."""
    query = sa.select(tenants.c.id).order_by(tenants.c.id).limit(limit)
    if after is not None:
        query = query.where(tenants.c.id > after)
    return list(await session.scalars(query))


async def secrets_of(session: AsyncSession, tenant_id: UUID) -> list[Any]:
    """The tenant's subscriptions' stored secrets, deleted ones included: (id, the
    plaintext of before migration 0005 or None, the sealed secret or None)."""
    s = subscriptions
    return list(
        await session.execute(
            sa.select(s.c.id, s.c.secret, s.c.sealed_secret).where(s.c.tenant_id == tenant_id)
        )
    )


async def store_sealed_secret(
    session: AsyncSession, tenant_id: UUID, subscription_id: UUID, sealed: bytes
) -> None:
    """Keep the secret sealed, and no plaintext copy."""
    s = subscriptions
    await session.execute(
        sa.update(s)
        .where((s.c.tenant_id == tenant_id) & (s.c.id == subscription_id))
        .values(sealed_secret=sealed, secret=None)
    )


async def seal_mark(session: AsyncSession, name: str) -> bytes | None:
    """The sealed value the sealing pass ``name`` left when it last finished, if it did."""
    found: bytes | None = await session.scalar(
        sa.select(seal_marks.c.sealed).where(seal_marks.c.name == name)
    )
    return found


async def put_seal_mark(session: AsyncSession, name: str, sealed: bytes, now: datetime) -> None:
    """Record that the sealing pass ``name`` finished, under the key that sealed ``sealed``."""
    await session.execute(
        insert(seal_marks)
        .values(name=name, sealed=sealed, marked_at=now)
        .on_conflict_do_update(index_elements=["name"], set_={"sealed": sealed, "marked_at": now})
    )


async def active_subscriptions(
    session: AsyncSession, tenant_id: UUID
) -> list[tuple[UUID, set[str]]]:
    """The tenant's subscriptions that take deliveries: (id, the event types it wants)."""
    s = subscriptions
    rows = await session.execute(
        sa.select(s.c.id, s.c.event_types).where(
            (s.c.tenant_id == tenant_id) & (s.c.status == "active") & s.c.deleted_at.is_(None)
        )
    )
    return [(r.id, set(r.event_types)) for r in rows]


async def stop_deliveries(
    session: AsyncSession,
    tenant_id: UUID,
    subscription_id: UUID,
    now: datetime,
    *,
    status: str | None = None,
    reason: str | None = None,
    deleted: bool = False,
) -> None:
    """End a subscription's pending deliveries (abandoned) and take them off the queue;
    set its status (and why) or mark it deleted."""
    s, d = subscriptions, subscription_deliveries
    values: dict[str, Any] = {}
    if status is not None:
        values.update(status=status, disabled_reason=reason)
    if deleted:
        values["deleted_at"] = now
    await session.execute(
        sa.update(s)
        .where((s.c.tenant_id == tenant_id) & (s.c.id == subscription_id))
        .values(**values)
    )
    await session.execute(
        sa.update(d)
        .where(
            (d.c.tenant_id == tenant_id)
            & (d.c.subscription_id == subscription_id)
            & (d.c.status == "pending")
        )
        .values(status="abandoned", finished_at=now, next_attempt_at=None)
    )
    await session.execute(
        sa.delete(delivery_queue).where(delivery_queue.c.subscription_id == subscription_id)
    )


# deliveries ----------------------------------------------------------------------------


async def enqueue_delivery(
    session: AsyncSession,
    tenant_id: UUID,
    delivery_id: UUID,
    subscription_id: UUID,
    *,
    event_id: UUID,
    event_type: str,
    body: str,
    now: datetime,
) -> bool:
    """One event's delivery to one subscription, due now; False when it was made before
    (an event redelivered by the bus is sent once per subscription)."""
    inserted = await session.execute(
        insert(subscription_deliveries)
        .values(
            tenant_id=tenant_id,
            id=delivery_id,
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        .returning(subscription_deliveries.c.id)
    )
    if inserted.first() is None:
        return False
    await session.execute(
        sa.insert(delivery_queue).values(
            delivery_id=delivery_id,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            due_at=now,
        )
    )
    return True


async def claim_due(
    session: AsyncSession, *, limit: int, per_subscription: int, lease: timedelta
) -> list[tuple[UUID, UUID]]:
    """Lease up to ``limit`` due deliveries of any tenant, never more than
    ``per_subscription`` in flight to one subscription (leases held count): (delivery,
    tenant) pairs, the earliest due first."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(CLAIM_LOCK))))
    q = delivery_queue
    held = sa.and_(q.c.lease_until.is_not(None), q.c.lease_until > sa.func.now())
    in_flight = (
        sa.select(q.c.subscription_id, sa.func.count().label("n"))
        .where(held)
        .group_by(q.c.subscription_id)
        .subquery()
    )
    due = (
        sa.select(q.c.delivery_id, q.c.subscription_id, q.c.due_at)
        .where((q.c.due_at <= sa.func.now()) & sa.not_(held))
        .order_by(q.c.due_at)
        .limit(max(limit * per_subscription * 4, 100))
        .subquery()
    )
    ranked = (
        sa.select(
            due.c.delivery_id,
            due.c.due_at,
            (
                sa.func.row_number().over(
                    partition_by=due.c.subscription_id, order_by=(due.c.due_at, due.c.delivery_id)
                )
                + sa.func.coalesce(in_flight.c.n, 0)
            ).label("slot"),
        )
        .select_from(due.outerjoin(in_flight, in_flight.c.subscription_id == due.c.subscription_id))
        .subquery()
    )
    chosen = (
        sa.select(ranked.c.delivery_id)
        .where(ranked.c.slot <= per_subscription)
        .order_by(ranked.c.due_at)
        .limit(limit)
    )
    rows = await session.execute(
        sa.update(q)
        .where(q.c.delivery_id.in_(chosen))
        .values(lease_until=sa.func.now() + lease)
        .returning(q.c.delivery_id, q.c.tenant_id)
    )
    return [(r.delivery_id, r.tenant_id) for r in rows]


async def get_delivery(
    session: AsyncSession, tenant_id: UUID, delivery_id: UUID
) -> DeliveryRow | None:
    d = subscription_deliveries
    row = (
        await session.execute(
            sa.select(d).where((d.c.tenant_id == tenant_id) & (d.c.id == delivery_id))
        )
    ).first()
    return _delivery(row) if row else None


async def list_deliveries(
    session: AsyncSession, tenant_id: UUID, subscription_id: UUID, *, after: UUID | None, limit: int
) -> list[DeliveryRow]:
    """A subscription's delivery log, oldest first (ids are UUIDv7)."""
    d = subscription_deliveries
    query = (
        sa.select(d)
        .where((d.c.tenant_id == tenant_id) & (d.c.subscription_id == subscription_id))
        .order_by(d.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(d.c.id > after)
    return [_delivery(r) for r in await session.execute(query)]


async def drop_from_queue(session: AsyncSession, delivery_id: UUID) -> None:
    await session.execute(
        sa.delete(delivery_queue).where(delivery_queue.c.delivery_id == delivery_id)
    )


async def record_attempt(
    session: AsyncSession,
    delivery: DeliveryRow,
    now: datetime,
    *,
    status_code: int | None,
    error: str | None,
    succeeded: bool,
    retry_at: datetime | None,
) -> int:
    """Write one attempt's outcome: delivered, retried at ``retry_at``, or failed for good;
    the subscription's run of consecutive failed attempts, as it stands after this one
    (0, and nothing written, when the delivery was abandoned while it was out)."""
    d, s, q = subscription_deliveries, subscriptions, delivery_queue
    if succeeded:
        status = "delivered"
    elif retry_at is not None:
        status = "pending"
    else:
        status = "failed"
    written = await session.execute(
        sa.update(d)
        .where(
            (d.c.tenant_id == delivery.tenant_id)
            & (d.c.id == delivery.id)
            & (d.c.status == "pending")  # not abandoned meanwhile (deleted, disabled)
        )
        .values(
            status=status,
            attempts=d.c.attempts + 1,
            last_status_code=status_code,
            last_error=error,
            next_attempt_at=retry_at,
            finished_at=None if status == "pending" else now,
        )
    )
    if written.rowcount == 0:  # type: ignore[attr-defined]
        return 0
    if status == "pending":
        await session.execute(
            sa.update(q)
            .where(q.c.delivery_id == delivery.id)
            .values(due_at=retry_at, lease_until=None)
        )
    else:
        await drop_from_queue(session, delivery.id)
    failures = sa.literal(0) if succeeded else s.c.consecutive_failures + 1
    run: int = (
        await session.execute(
            sa.update(s)
            .where((s.c.tenant_id == delivery.tenant_id) & (s.c.id == delivery.subscription_id))
            .values(consecutive_failures=failures)
            .returning(s.c.consecutive_failures)
        )
    ).scalar_one()
    return run

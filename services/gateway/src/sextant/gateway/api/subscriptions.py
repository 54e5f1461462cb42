"""Partner subscriptions: signed outbound webhooks a tenant's admins set up
(:mod:`sextant.gateway.subscriptions`)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path

from sextant.gateway import subscriptions as service
from sextant.gateway.access import TenantSession, allow, tenant_of
from sextant.gateway.authn import Principal
from sextant.gateway.db import webhooks as repository
from sextant.gateway.db.webhooks import DeliveryRow, SubscriptionRow
from sextant.gateway.schemas import (
    CreatedSubscriptionReply,
    Page,
    SubscriptionCreate,
    SubscriptionDeliveryReply,
    SubscriptionReply,
)
from sextant.runtime.app import State
from sextant.runtime.errors import NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, next_cursor

router = APIRouter(prefix="/v1", tags=["subscriptions"])

TenantAdmin = Annotated[Principal, Depends(allow("tenant_admin", "platform_admin"))]
SubscriptionId = Annotated[UUID, Path(description="the subscription's id")]
UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: problem_response("no such subscription in the caller's tenant")
}
REFUSED: dict[int | str, dict[str, Any]] = {
    400: problem_response("an unknown event type, or a URL the egress policy refuses (named)")
}


def _reply(row: SubscriptionRow) -> SubscriptionReply:
    return SubscriptionReply(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=row.event_types,
        status=row.status,
        consecutive_failures=row.consecutive_failures,
        disabled_reason=row.disabled_reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: DeliveryRow) -> SubscriptionDeliveryReply:
    return SubscriptionDeliveryReply(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=CreatedSubscriptionReply,
    summary="Subscribe a URL to event types (the signing secret is in this reply only)",
    responses=REFUSED,
)
async def create_subscription(
    body: SubscriptionCreate, caller: TenantAdmin, session: TenantSession, state: State
) -> CreatedSubscriptionReply:
    """Every later event of the tenant of one of ``event_types`` is POSTed to ``url``,
    signed per Standard Webhooks with the ``whsec_`` secret returned here once: store it
    now. Failed deliveries are retried with backoff; after repeated failures the
    subscription is disabled and the tenant's admins notified."""
    worker = service.worker_of(state)
    row, secret = await service.create_subscription(
        session,
        state.outbox,
        worker.policy,
        tenant_of(caller),
        url=body.url,
        description=body.description,
        event_types=body.event_types,
        actor=caller.subject,
        box=worker.box,
    )
    return CreatedSubscriptionReply(**_reply(row).model_dump(), secret=secret)


@router.get(
    "/subscriptions",
    response_model=Page[SubscriptionReply],
    summary="The tenant's subscriptions",
)
async def list_subscriptions(
    caller: TenantAdmin, session: TenantSession, limit: Limit = 100, cursor: Cursor = None
) -> Page[SubscriptionReply]:
    """Active and disabled ones, oldest first, a page at a time; never their secrets."""
    rows = await repository.list_subscriptions(
        session, tenant_of(caller), after=after_id(cursor), limit=limit
    )
    return Page[SubscriptionReply](
        items=[_reply(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionReply,
    summary="One subscription",
    responses=UNKNOWN,
)
async def get_subscription(
    subscription_id: SubscriptionId, caller: TenantAdmin, session: TenantSession
) -> SubscriptionReply:
    """Its state: active or disabled (and why), failed attempts in a row."""
    row = await repository.get_subscription(session, tenant_of(caller), subscription_id)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return _reply(row)


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionReply,
    summary="Delete a subscription: nothing more is sent to it",
    responses=UNKNOWN,
)
async def delete_subscription(
    subscription_id: SubscriptionId, caller: TenantAdmin, session: TenantSession, state: State
) -> SubscriptionReply:
    """Its pending deliveries are abandoned; it is gone from the lists."""
    row = await service.delete_subscription(
        session, state.outbox, tenant_of(caller), subscription_id, caller.subject
    )
    return _reply(row)


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=Page[SubscriptionDeliveryReply],
    summary="A subscription's delivery log",
    responses=UNKNOWN,
)
async def list_subscription_deliveries(
    subscription_id: SubscriptionId,
    caller: TenantAdmin,
    session: TenantSession,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SubscriptionDeliveryReply]:
    """Each event sent or to be sent, oldest first: its attempts, the receiver's last
    answer or the last error, and when it is tried next."""
    tenant = tenant_of(caller)
    if await repository.get_subscription(session, tenant, subscription_id) is None:
        raise NotFound(f"no subscription {subscription_id}")
    rows = await repository.list_deliveries(
        session, tenant, subscription_id, after=after_id(cursor), limit=limit
    )
    return Page[SubscriptionDeliveryReply](
        items=[_delivery(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )

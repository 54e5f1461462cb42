"""In-app notifications: a page of them, marking them read, and a WebSocket stream that
replays what a reconnecting client missed (``?after=<seq>``) before going live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Path, Query, WebSocket, WebSocketDisconnect

from sextant.gateway.access import (
    ACTING_TENANT,
    TenantSession,
    allow,
    authenticated,
    gateway_of,
    rate_limit,
    signed_in,
    tenant_of,
)
from sextant.gateway.authn import ROLES, Principal
from sextant.gateway.db import repository
from sextant.gateway.db.repository import NotificationRow
from sextant.gateway.notifications import NotificationHub, Streams
from sextant.gateway.revocation import POLICY_VIOLATION
from sextant.gateway.schemas import MarkedRead, MarkRead, NotificationReply, Page
from sextant.gateway.sessions import session_cookie
from sextant.runtime.app import ServiceState
from sextant.runtime.errors import DomainError, InvalidInput, NotFound, Unauthenticated
from sextant.runtime.paging import MAX_SEQ, Cursor, Limit, from_seq, next_cursor, seq_number

log = structlog.get_logger()

router = APIRouter(prefix="/v1", tags=["notifications"])

Anyone = Annotated[Principal, Depends(allow(*ROLES))]
HEARTBEAT_SECONDS = 15.0


def _reply(row: NotificationRow) -> NotificationReply:
    return NotificationReply(
        id=row.id,
        seq=row.seq,
        severity=row.severity,
        title=row.title,
        body=row.body,
        link=row.link,
        raised_by=row.raised_by,
        created_at=row.created_at,
        read=row.read,
    )


@router.get(
    "/notifications",
    response_model=Page[NotificationReply],
    summary="Notifications for the caller's role, newest first",
)
async def list_notifications(
    caller: Anyone,
    session: TenantSession,
    unread: Annotated[bool, Query(description="only those the caller has not read")] = False,
    severity: Annotated[
        Literal["info", "warning", "error"] | None, Query(description="only this severity")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="only those after this seq")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationReply]:
    """What the platform told the caller's role: a source suspended, a backfill done, a token
    revoked; also streamed live at /v1/notifications/stream (WebSocket)."""
    before = from_seq(cursor)
    rows = await repository.list_notifications(
        session,
        tenant_of(caller),
        role=audience_role(caller),
        subject=caller.subject,
        after_seq=after,
        before_seq=before,
        unread_only=unread,
        severity=severity,
        limit=limit,
    )
    return Page[NotificationReply](
        items=[_reply(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.seq)
    )


@router.post("/notifications/read", response_model=MarkedRead, summary="Mark notifications read")
async def mark_read(body: MarkRead, caller: Anyone, session: TenantSession) -> MarkedRead:
    """Marks the given notifications read for the caller; ids the caller cannot see are skipped."""
    marked = await repository.mark_read(
        session,
        tenant_of(caller),
        role=audience_role(caller),
        subject=caller.subject,
        ids=body.ids,
        at=datetime.now(UTC),
    )
    return MarkedRead(marked=marked)


@router.post(
    "/notifications/{notification_id}/read", response_model=MarkedRead, summary="Mark one read"
)
async def mark_one_read(
    notification_id: Annotated[UUID, Path(description="the notification's id")],
    caller: Anyone,
    session: TenantSession,
) -> MarkedRead:
    """Marks one notification read for the caller."""
    tenant = tenant_of(caller)
    if not await repository.notification_exists(
        session, tenant, notification_id, audience_role(caller)
    ):
        raise NotFound(f"no notification {notification_id}")
    marked = await repository.mark_read(
        session,
        tenant,
        role=audience_role(caller),
        subject=caller.subject,
        ids=[notification_id],
        at=datetime.now(UTC),
    )
    return MarkedRead(marked=marked)


def audience_role(caller: Principal) -> str:
    """The role whose notifications a caller reads: a platform admin acting on a tenant
    (``/v1/tenants/{id}/…``, the portal's way in) reads what the tenant's admins do; no
    notification is addressed to the platform's own role."""
    return "tenant_admin" if caller.role == "platform_admin" else caller.role


async def _stream_principal(websocket: WebSocket, state: ServiceState) -> Principal:
    gateway = gateway_of(state)
    streams: Streams = state.extras["streams"]
    epoch = streams.epoch
    authorization = websocket.headers.get("authorization")
    if authorization is None and (token := websocket.query_params.get("access_token")):
        authorization = f"Bearer {token}"  # browsers cannot set headers on a WebSocket
    cookie = None if authorization else session_cookie(websocket)
    if cookie is not None:  # the portal's page: its session, from its own origin
        caller = await signed_in(gateway, state.db, websocket, cookie)
    else:
        caller = await authenticated(gateway, websocket.scope, authorization)
    acting = websocket.scope.get("state", {}).get(ACTING_TENANT)
    if acting is not None:
        if caller.role != "platform_admin":
            raise InvalidInput("only a platform admin acts through /v1/tenants/{id}/…")
        caller = Principal(caller.subject, caller.role, acting, caller.via, caller.key_id)
    tenant_of(caller)
    rate_limit(gateway, caller)
    if streams.epoch != epoch and not await gateway.authenticator.credential_live(caller):
        # something was revoked while this caller was being checked: perhaps its own key
        raise Unauthenticated("the credential was revoked or its tenant deleted")
    return caller


@router.websocket("/notifications/stream")
async def stream(websocket: WebSocket) -> None:
    """Authenticate (``Authorization`` header, ``?access_token=``, or the portal's session
    cookie from the gateway's own origin), send everything
    after ``?after=<seq>``, then each new notification for the caller's tenant and role
    as JSON; ``{"type": "heartbeat"}`` every 15 s while quiet."""
    state: ServiceState = websocket.app.state.service
    try:
        caller = await _stream_principal(websocket, state)
        after = seq_number(websocket.query_params.get("after", "0"), "after")
    except DomainError as exc:
        await websocket.close(code=1008, reason=exc.detail[:120])
        return
    hub: NotificationHub = state.extras["notification_hub"]
    streams: Streams = state.extras["streams"]
    # Registered with no await since the check: a revocation from now on ends it.
    opened = streams.open(caller)
    ended = opened.ended
    await websocket.accept()
    # The client sends nothing after connecting: whatever arrives means it has left.
    left = asyncio.ensure_future(websocket.receive())
    try:
        while not left.done() and not ended.done():
            changed = hub.changed()
            async with state.db.transaction(caller.tenant_id) as session:
                rows = await repository.list_notifications(
                    session,
                    tenant_of(caller),
                    role=audience_role(caller),
                    subject=caller.subject,
                    after_seq=after,
                    before_seq=None,
                    unread_only=False,
                    severity=None,
                    limit=200,
                    oldest_first=True,
                )
            if ended.done():
                break  # nothing more for a credential revoked while this was read
            for row in rows:
                await websocket.send_json(
                    {"type": "notification", "notification": _reply(row).model_dump(mode="json")}
                )
                after = row.seq
            if len(rows) == 200:
                continue
            woken = asyncio.ensure_future(changed.wait())
            waits: set[asyncio.Future[Any]] = {woken, left, ended}
            await asyncio.wait(waits, timeout=HEARTBEAT_SECONDS, return_when="FIRST_COMPLETED")
            woken.cancel()
            if not changed.is_set() and not left.done() and not ended.done():
                await websocket.send_json({"type": "heartbeat", "after": after})
        if ended.done() and not left.done():
            await websocket.close(code=POLICY_VIOLATION, reason=ended.result())
            log.info("notifications.stream_ended", subject=caller.subject, why=ended.result())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        streams.close(opened)
        left.cancel()
        log.debug("notifications.stream_closed", subject=caller.subject)

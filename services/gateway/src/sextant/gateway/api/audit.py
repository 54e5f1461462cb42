"""The audit log: every configuration change anywhere, hash-chained per tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sextant.gateway.access import TenantSession, allow
from sextant.gateway.authn import Principal
from sextant.gateway.db import repository
from sextant.gateway.domain.audit import PLATFORM_CHAIN, verify_chain
from sextant.gateway.schemas import AuditRecord, AuditVerifyReply, Page
from sextant.runtime.paging import Cursor, Limit, Moment, from_seq, next_cursor

router = APIRouter(prefix="/v1", tags=["audit"])

Auditor = Annotated[Principal, Depends(allow("tenant_admin", "platform_admin"))]


@router.get(
    "/audit-log",
    response_model=Page[AuditRecord],
    summary="Configuration changes, newest first (a platform admin sees the platform's own)",
)
async def audit_log(
    caller: Auditor,
    session: TenantSession,
    action: Annotated[
        str | None, Query(description="only this action, e.g. workspace.created")
    ] = None,
    actor: Annotated[str | None, Query(description="only changes by this subject")] = None,
    target_type: Annotated[
        str | None, Query(description="only changes to this kind of object, e.g. workspace")
    ] = None,
    target_id: Annotated[str | None, Query(description="only changes to this object")] = None,
    since: Annotated[Moment | None, Query(description="only changes at or after this time")] = None,
    until: Annotated[Moment | None, Query(description="only changes before this time")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[AuditRecord]:
    """Who changed what configuration, when, with the values before and after; each record
    carries its hash in the tenant's chain."""
    before_seq = from_seq(cursor)
    tenant = caller.tenant_id or PLATFORM_CHAIN
    rows = await repository.list_audit(
        session,
        tenant,
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        before_seq=before_seq,
        limit=limit,
    )
    items = [
        AuditRecord(
            seq=r.entry.seq,
            at=r.entry.at,
            service=r.entry.service,
            actor=r.entry.actor,
            action=r.entry.action,
            target_type=r.entry.target_type,
            target_id=r.entry.target_id,
            before=r.entry.before,
            after=r.entry.after,
            request_id=r.entry.request_id,
            hash=r.hash,
        )
        for r in rows
    ]
    return Page[AuditRecord](
        items=items, next_cursor=next_cursor(rows, limit, lambda r: r.entry.seq)
    )


@router.get(
    "/audit-log/verify",
    response_model=AuditVerifyReply,
    summary="Recompute the caller's chain and name the first row that does not hold",
)
async def verify(caller: Auditor, session: TenantSession) -> AuditVerifyReply:
    """Recomputes the tenant's hash chain and says whether any record was altered or removed
    since it was written; once the oldest records were purged (their archived copy
    verified), from the checkpoint they left (`verified_from`)."""
    chain = caller.tenant_id or PLATFORM_CHAIN
    rows, head = await repository.audit_chain(session, chain)
    start = await repository.audit_checkpoint(session, chain)
    broken = verify_chain(((r.entry, r.prev_hash, r.hash) for r in rows), head, start)
    since = {"verified_from": start.seq, "purged": start.purged} if start else {}
    if broken is None:
        return AuditVerifyReply(intact=True, rows=len(rows), **since)
    return AuditVerifyReply(
        intact=False, rows=len(rows), first_bad_seq=broken.seq, reason=broken.reason, **since
    )

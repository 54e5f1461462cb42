"""Retention policies and legal holds: each change in the caller's transaction, audited
(``ConfigChanged`` to the gateway's hash-chained audit log, through the outbox) and, for
holds, announced (``LegalHoldChanged``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.archive.db import holds, policies
from sextant.archive.domain.retention import DataClass, Periods, effective
from sextant.archive.schemas import (
    LegalHold,
    LegalHoldRelease,
    LegalHoldRequest,
    RestoreRequest,
    RetentionPolicies,
    RetentionPolicy,
    RetentionUpdate,
)
from sextant.contracts import uuid7
from sextant.contracts.events.platform import LegalHoldChanged
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import Conflict, NotFound
from sextant.runtime.outbox import Outbox


@dataclass(frozen=True)
class Actor:
    """Who changes what, for which tenant, and where the events go."""

    tenant: UUID
    name: str
    outbox: Outbox


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    change = config_change(actor.name, action, (target_type, target_id), before=before, after=after)
    await record_change(session, actor.outbox, actor.tenant, change)


async def retention(session: AsyncSession, tenant: UUID) -> RetentionPolicies:
    """Every class's periods as the tenant has them."""
    chosen = await policies.chosen(session, tenant)
    changes = await policies.last_changes(session, tenant)
    return RetentionPolicies(
        items=[
            RetentionPolicy(
                data_class=data_class,
                hot_days=periods.hot_days,
                cold_days=periods.cold_days,
                is_default=data_class not in chosen,
                updated_at=changes.get(data_class, (None, None))[0],
                updated_by=changes.get(data_class, (None, None))[1],
            )
            for data_class, periods in effective(chosen).items()
        ]
    )


async def change_retention(
    session: AsyncSession, actor: Actor, update: RetentionUpdate
) -> RetentionPolicies:
    """Set the named classes' periods; each one that changes is audited."""
    await policies.lock(session, actor.tenant)
    now = datetime.now(UTC)
    chosen = await policies.chosen(session, actor.tenant)
    current = effective(chosen)
    for choice in update.policies:
        data_class: DataClass = choice.data_class
        before, after = current[data_class], Periods(choice.hot_days, choice.cold_days)
        if before == after and data_class in chosen:
            continue  # nothing changes: nothing to audit
        await policies.choose(session, actor.tenant, data_class, after, now, actor.name)
        await _audit(
            session,
            actor,
            "retention_policy.update",
            "retention_policy",
            data_class,
            {**before.__dict__, "is_default": data_class not in chosen},
            {**after.__dict__, "is_default": False},
        )
    return await retention(session, actor.tenant)


def _scope_of(request: LegalHoldRequest) -> tuple[str, UUID | None]:
    kind, _, target = request.scope.partition(":")
    return kind, UUID(target) if target else None


def hold_view(hold: holds.Hold) -> LegalHold:
    scope = hold.scope_kind if hold.scope_id is None else f"{hold.scope_kind}:{hold.scope_id}"
    return LegalHold(
        id=hold.id,
        scope=scope,
        starts_at=hold.starts_at,
        ends_at=hold.ends_at,
        reason=hold.reason,
        active=hold.released_at is None,
        created_at=hold.created_at,
        created_by=hold.created_by,
        released_at=hold.released_at,
        released_by=hold.released_by,
        release_reason=hold.release_reason,
    )


async def place_hold(session: AsyncSession, actor: Actor, request: LegalHoldRequest) -> LegalHold:
    """Place a hold; audited and announced."""
    kind, target = _scope_of(request)
    hold = holds.Hold(
        id=uuid7(),
        tenant_id=actor.tenant,
        scope_kind=kind,
        scope_id=target,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        reason=request.reason,
        created_at=datetime.now(UTC),
        created_by=actor.name,
        released_at=None,
        released_by=None,
        release_reason=None,
    )
    await holds.place(session, hold)
    view = hold_view(hold)
    await _announce(session, actor, view, active=True, reason=request.reason)
    await _audit(
        session,
        actor,
        "legal_hold.place",
        "legal_hold",
        str(hold.id),
        None,
        view.model_dump(mode="json"),
    )
    return view


async def release_hold(
    session: AsyncSession, actor: Actor, hold_id: UUID, release: LegalHoldRelease
) -> LegalHold:
    """Release an active hold; audited and announced. 404 unknown, 409 already released."""
    hold = await holds.get(session, actor.tenant, hold_id, lock=True)
    if hold is None:
        raise NotFound(f"no legal hold {hold_id} in this tenant", parameter="hold_id")
    if hold.released_at is not None:
        raise Conflict(
            f"legal hold {hold_id} was already released at {hold.released_at.isoformat()}"
        )
    before = hold_view(hold)
    now = datetime.now(UTC)
    await holds.release(session, actor.tenant, hold_id, now, actor.name, release.reason)
    released = hold_view(
        holds.Hold(
            **{
                **hold.__dict__,
                "released_at": now,
                "released_by": actor.name,
                "release_reason": release.reason,
            }
        )
    )
    await _announce(session, actor, released, active=False, reason=release.reason or hold.reason)
    await _audit(
        session,
        actor,
        "legal_hold.release",
        "legal_hold",
        str(hold_id),
        before.model_dump(mode="json"),
        released.model_dump(mode="json"),
    )
    return released


async def _announce(
    session: AsyncSession, actor: Actor, hold: LegalHold, *, active: bool, reason: str
) -> None:
    await actor.outbox.add(
        session,
        LegalHoldChanged(hold_id=hold.id, active=active, reason=reason, by=actor.name),
        tenant_id=actor.tenant,
        entity=f"legal_hold:{hold.id}",
    )


async def audit_restore(
    session: AsyncSession, actor: Actor, restore_id: UUID, request: RestoreRequest
) -> None:
    """A restore republishes a tenant's history: it goes in the audit log."""
    after = request.model_dump(mode="json")
    await _audit(session, actor, "archive.restore", "restore", str(restore_id), None, after)

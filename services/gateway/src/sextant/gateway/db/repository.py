"""Reads and writes of the gateway's tables; plain values in and out, never a commit.

Every tenant function takes the tenant explicitly and filters on it (the first wall);
RLS on the transaction's tenant is the second."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.gateway.db import (
    SCHEMA,
    api_key_routes,
    api_keys,
    audit_checkpoints,
    audit_heads,
    audit_log,
    notification_reads,
    notifications,
    tenants,
    views,
    workspaces,
)
from sextant.gateway.domain.audit import GENESIS, AuditEntry, Checkpoint, chain_hash
from sextant.runtime.purge import without_workspace


@dataclass(frozen=True)
class TenantRow:
    id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None
    restorable_until: datetime | None
    purged_at: datetime | None = None


@dataclass(frozen=True)
class WorkspaceRow:
    tenant_id: UUID
    id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None
    restorable_until: datetime | None
    purged_at: datetime | None = None


@dataclass(frozen=True)
class ViewRow:
    tenant_id: UUID
    id: UUID
    name: str
    workspace_ids: list[UUID]
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class ApiKeyRow:
    tenant_id: UUID
    id: UUID
    key_id: str
    secret_sha256: bytes
    name: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class NotificationRow:
    seq: int
    id: UUID
    severity: str
    audience: list[str]
    title: str
    body: str
    link: str | None
    raised_by: str
    created_at: datetime
    read: bool


# tenants --------------------------------------------------------------------------------


async def create_tenant(
    session: AsyncSession, tenant_id: UUID, name: str, at: datetime
) -> TenantRow:
    await session.execute(sa.insert(tenants).values(id=tenant_id, name=name, created_at=at))
    return TenantRow(tenant_id, name, at, None, None)


async def get_tenant(session: AsyncSession, tenant_id: UUID) -> TenantRow | None:
    row = (await session.execute(sa.select(tenants).where(tenants.c.id == tenant_id))).first()
    return TenantRow(**row._mapping) if row else None


async def list_tenants(
    session: AsyncSession, *, include_deleted: bool, after: UUID | None, limit: int
) -> list[TenantRow]:
    query = sa.select(tenants).order_by(tenants.c.id).limit(limit)
    if not include_deleted:
        query = query.where(tenants.c.deleted_at.is_(None))
    if after is not None:
        query = query.where(tenants.c.id > after)
    return [TenantRow(**r._mapping) for r in await session.execute(query)]


async def set_tenant_deleted(
    session: AsyncSession, tenant_id: UUID, at: datetime | None, restorable_until: datetime | None
) -> None:
    await session.execute(
        sa.update(tenants)
        .where(tenants.c.id == tenant_id)
        .values(deleted_at=at, restorable_until=restorable_until)
    )


async def mark_purged(session: AsyncSession, tenant_id: UUID, workspace_id: UUID | None) -> None:
    """The archive's scope purge reached us: the tenant (workspace None) and its
    workspaces, or the workspace, are purged for good — tombstones that can be neither
    restored nor made again (called by the purge handler, in its transaction)."""
    now = sa.func.now()
    w = workspaces
    if workspace_id is None:
        await session.execute(
            sa.update(tenants)
            .where(tenants.c.id == tenant_id, tenants.c.purged_at.is_(None))
            .values(purged_at=now)
        )
    await session.execute(
        sa.update(w)
        .where(
            w.c.tenant_id == tenant_id,
            sa.true() if workspace_id is None else w.c.id == workspace_id,
            w.c.purged_at.is_(None),
        )
        .values(purged_at=now)
    )


async def tenant_purged(session: AsyncSession, tenant_id: UUID) -> bool:
    """Whether the tenant's scope purge went through (its rows are gone for good). The row
    is locked for share: a purge under way (it marks the row first) is waited for, and one
    that starts meanwhile deletes what this transaction writes once it commits."""
    at = await session.scalar(
        sa.select(tenants.c.purged_at).where(tenants.c.id == tenant_id).with_for_update(read=True)
    )
    return at is not None


async def purge_audit_chain(session: AsyncSession, tenant_id: UUID) -> int:
    """Delete a soft-deleted tenant's whole audit chain (its rows, head and checkpoint),
    through the one function allowed to: the rows deleted."""
    deleted = await session.scalar(
        sa.text(f"SELECT {SCHEMA}.purge_audit_chain(:t)"), {"t": tenant_id}
    )
    return int(deleted or 0)


# workspaces -----------------------------------------------------------------------------


async def create_workspace(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, name: str, at: datetime
) -> WorkspaceRow:
    await session.execute(
        sa.insert(workspaces).values(tenant_id=tenant_id, id=workspace_id, name=name, created_at=at)
    )
    return WorkspaceRow(tenant_id, workspace_id, name, at, None, None)


async def get_workspace(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, *, include_deleted: bool = False
) -> WorkspaceRow | None:
    w = workspaces
    query = sa.select(w).where((w.c.tenant_id == tenant_id) & (w.c.id == workspace_id))
    if not include_deleted:
        query = query.where(w.c.deleted_at.is_(None))
    row = (await session.execute(query)).first()
    return WorkspaceRow(**row._mapping) if row else None


async def list_workspaces(
    session: AsyncSession, tenant_id: UUID, *, include_deleted: bool, after: UUID | None, limit: int
) -> list[WorkspaceRow]:
    w = workspaces
    query = sa.select(w).where(w.c.tenant_id == tenant_id).order_by(w.c.id).limit(limit)
    if not include_deleted:
        query = query.where(w.c.deleted_at.is_(None))
    if after is not None:
        query = query.where(w.c.id > after)
    return [WorkspaceRow(**r._mapping) for r in await session.execute(query)]


async def live_workspace_ids(
    session: AsyncSession, tenant_id: UUID, candidates: list[UUID]
) -> list[UUID]:
    """Those of ``candidates`` that are the tenant's and not deleted, in the given order."""
    w = workspaces
    rows = await session.execute(
        sa.select(w.c.id).where(
            (w.c.tenant_id == tenant_id) & w.c.id.in_(candidates) & w.c.deleted_at.is_(None)
        )
    )
    live = {r.id for r in rows}
    return [c for c in candidates if c in live]


async def update_workspace(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID, **values: Any
) -> None:
    w = workspaces
    await session.execute(
        sa.update(w).where((w.c.tenant_id == tenant_id) & (w.c.id == workspace_id)).values(**values)
    )


# views ----------------------------------------------------------------------------------


async def create_view(
    session: AsyncSession,
    tenant_id: UUID,
    view_id: UUID,
    name: str,
    workspace_ids: list[UUID],
    at: datetime,
) -> ViewRow:
    await session.execute(
        sa.insert(views).values(
            tenant_id=tenant_id, id=view_id, name=name, workspace_ids=workspace_ids, created_at=at
        )
    )
    return ViewRow(tenant_id, view_id, name, workspace_ids, at, None)


async def get_view(session: AsyncSession, tenant_id: UUID, view_id: UUID) -> ViewRow | None:
    v = views
    row = (
        await session.execute(
            sa.select(v).where(
                (v.c.tenant_id == tenant_id) & (v.c.id == view_id) & v.c.deleted_at.is_(None)
            )
        )
    ).first()
    return ViewRow(**row._mapping) if row else None


async def list_views(
    session: AsyncSession, tenant_id: UUID, *, after: UUID | None, limit: int
) -> list[ViewRow]:
    v = views
    query = (
        sa.select(v)
        .where((v.c.tenant_id == tenant_id) & v.c.deleted_at.is_(None))
        .order_by(v.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(v.c.id > after)
    return [ViewRow(**r._mapping) for r in await session.execute(query)]


async def remove_workspace_from_views(
    session: AsyncSession, tenant_id: UUID, workspace_id: UUID
) -> list[tuple[ViewRow, ViewRow]]:
    """On its purge, take the workspace out of every view of the tenant naming it; a view
    it leaves with none is deleted (a view of nothing answers nothing). Each live view
    changed, before and after (one already deleted is changed but not returned)."""
    v = views
    named = (
        sa.select(v)
        .where(
            v.c.tenant_id == tenant_id,
            v.c.workspace_ids.any_() == workspace_id,
            v.c.deleted_at.is_(None),
        )
        .with_for_update()
    )
    before = {r.id: ViewRow(**r._mapping) for r in await session.execute(named)}
    deleted_at = sa.func.coalesce(v.c.deleted_at, sa.func.now())
    changed = await session.execute(
        without_workspace(
            v.c.workspace_ids, tenant_id, workspace_id, when_emptied={"deleted_at": deleted_at}
        )
    )
    return [(before[r.id], ViewRow(**r._mapping)) for r in changed if r.id in before]


async def update_view(session: AsyncSession, tenant_id: UUID, view_id: UUID, **values: Any) -> None:
    v = views
    await session.execute(
        sa.update(v).where((v.c.tenant_id == tenant_id) & (v.c.id == view_id)).values(**values)
    )


# API keys -------------------------------------------------------------------------------


async def create_api_key(session: AsyncSession, row: ApiKeyRow) -> None:
    await session.execute(
        sa.insert(api_key_routes).values(key_id=row.key_id, tenant_id=row.tenant_id)
    )
    await session.execute(sa.insert(api_keys).values(**row.__dict__))


async def api_key_tenant(session: AsyncSession, key_id: str) -> UUID | None:
    r = api_key_routes
    tenant: UUID | None = (
        await session.execute(sa.select(r.c.tenant_id).where(r.c.key_id == key_id))
    ).scalar()
    return tenant


async def api_key_by_key_id(
    session: AsyncSession, tenant_id: UUID, key_id: str
) -> ApiKeyRow | None:
    k = api_keys
    row = (
        await session.execute(
            sa.select(k).where((k.c.tenant_id == tenant_id) & (k.c.key_id == key_id))
        )
    ).first()
    return ApiKeyRow(**row._mapping) if row else None


async def get_api_key(session: AsyncSession, tenant_id: UUID, key: UUID) -> ApiKeyRow | None:
    k = api_keys
    row = (
        await session.execute(sa.select(k).where((k.c.tenant_id == tenant_id) & (k.c.id == key)))
    ).first()
    return ApiKeyRow(**row._mapping) if row else None


async def list_api_keys(session: AsyncSession, tenant_id: UUID) -> list[ApiKeyRow]:
    k = api_keys
    rows = await session.execute(
        sa.select(k).where(k.c.tenant_id == tenant_id).order_by(k.c.created_at)
    )
    return [ApiKeyRow(**r._mapping) for r in rows]


async def hold_live_api_key(session: AsyncSession, tenant_id: UUID, key_id: str) -> bool:
    """Whether the key is live, holding it so until the transaction ends: a revocation
    waits for this transaction, or this one sees the revocation (``FOR SHARE``)."""
    k = api_keys
    row = (
        await session.execute(
            sa.select(k.c.revoked_at, k.c.expires_at)
            .where((k.c.tenant_id == tenant_id) & (k.c.key_id == key_id))
            .with_for_update(read=True)
        )
    ).first()
    return (
        row is not None
        and row.revoked_at is None
        and (row.expires_at is None or row.expires_at > datetime.now(UTC))
    )


async def revoke_api_key(session: AsyncSession, tenant_id: UUID, key: UUID, at: datetime) -> None:
    k = api_keys
    await session.execute(
        sa.update(k)
        .where((k.c.tenant_id == tenant_id) & (k.c.id == key) & k.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


# audit log ------------------------------------------------------------------------------

_AUDIT_LOCK = 0x5E87A0D  # with the chain's tenant: one writer per chain at a time


async def append_audit(session: AsyncSession, entry_without_seq: AuditEntry) -> AuditRow | None:
    """Add an entry at the end of its tenant's chain; None if its event is already in."""
    tenant_id = entry_without_seq.tenant_id
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k, hashtext(:t))"),
        {"k": _AUDIT_LOCK, "t": str(tenant_id)},
    )
    seen = await session.execute(
        sa.select(audit_log.c.seq).where(audit_log.c.event_id == entry_without_seq.event_id)
    )
    if seen.first() is not None:
        return None
    head = (
        await session.execute(
            sa.select(audit_heads.c.seq, audit_heads.c.hash).where(
                audit_heads.c.tenant_id == tenant_id
            )
        )
    ).first()
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    entry = AuditEntry(**{**entry_without_seq.__dict__, "seq": prev_seq + 1})
    digest = chain_hash(prev_hash, entry)
    await session.execute(
        sa.insert(audit_log).values(**entry.__dict__, prev_hash=prev_hash, hash=digest)
    )
    upsert = insert(audit_heads).values(tenant_id=tenant_id, seq=entry.seq, hash=digest)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[audit_heads.c.tenant_id], set_={"seq": entry.seq, "hash": digest}
        )
    )
    return AuditRow(entry, prev_hash, digest)


def _audit_row(r: Any) -> AuditRow:
    m = dict(r._mapping)
    prev_hash, digest = m.pop("prev_hash"), m.pop("hash")
    return AuditRow(AuditEntry(**m), prev_hash, digest)


async def list_audit(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    action: str | None,
    actor: str | None,
    target_type: str | None,
    target_id: str | None,
    since: datetime | None,
    until: datetime | None,
    before_seq: int | None,
    limit: int,
) -> list[AuditRow]:
    """Newest first."""
    a = audit_log
    query = sa.select(a).where(a.c.tenant_id == tenant_id).order_by(a.c.seq.desc()).limit(limit)
    for column, value in (
        (a.c.action, action),
        (a.c.actor, actor),
        (a.c.target_type, target_type),
        (a.c.target_id, target_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(a.c.at >= since)
    if until is not None:
        query = query.where(a.c.at < until)
    if before_seq is not None:
        query = query.where(a.c.seq < before_seq)
    return [_audit_row(r) for r in await session.execute(query)]


async def audit_chain(
    session: AsyncSession, tenant_id: UUID
) -> tuple[list[AuditRow], tuple[int, str] | None]:
    """One tenant's whole chain in order, and its recorded head."""
    a = audit_log
    rows = await session.execute(sa.select(a).where(a.c.tenant_id == tenant_id).order_by(a.c.seq))
    head = (
        await session.execute(
            sa.select(audit_heads.c.seq, audit_heads.c.hash).where(
                audit_heads.c.tenant_id == tenant_id
            )
        )
    ).first()
    return [_audit_row(r) for r in rows], ((head.seq, head.hash) if head else None)


async def audit_checkpoint(session: AsyncSession, tenant_id: UUID) -> Checkpoint | None:
    """Where the tenant's chain starts, once its oldest rows were purged."""
    c = audit_checkpoints
    row = (
        await session.execute(
            sa.select(c.c.seq, c.c.hash, c.c.purged).where(c.c.tenant_id == tenant_id)
        )
    ).first()
    return Checkpoint(row.seq, row.hash, row.purged) if row else None


async def purge_audit(
    session: AsyncSession,
    tenant_id: UUID,
    not_before: datetime | None,
    older_than: datetime,
    held: Sequence[tuple[datetime | None, datetime | None]],
) -> tuple[int, Checkpoint | None]:
    """Purge the oldest rows of the tenant's chain whose archived copy verified: the
    longest prefix of rows timed in ``[not_before, older_than]`` that no hold's
    ``[starts_at, ends_at)`` meets (a row before ``not_before`` is one no verified object
    holds: the prefix stops there). The rows deleted and the new checkpoint."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k, hashtext(:t))"),
        {"k": _AUDIT_LOCK, "t": str(tenant_id)},
    )
    a = audit_log
    stops: list[sa.ColumnElement[bool]] = [a.c.at > older_than]
    if not_before is not None:
        stops.append(a.c.at < not_before)
    for starts_at, ends_at in held:
        meets: list[sa.ColumnElement[bool]] = [sa.true()]
        if starts_at is not None:
            meets.append(a.c.at >= starts_at)
        if ends_at is not None:
            meets.append(a.c.at < ends_at)
        stops.append(sa.and_(*meets))
    first_kept = await session.scalar(
        sa.select(sa.func.min(a.c.seq)).where(a.c.tenant_id == tenant_id, sa.or_(*stops))
    )
    last = await session.scalar(sa.select(sa.func.max(a.c.seq)).where(a.c.tenant_id == tenant_id))
    upto = last if first_kept is None else first_kept - 1
    if upto is None or upto < 1:
        return 0, await audit_checkpoint(session, tenant_id)
    deleted = await session.scalar(
        sa.text(f"SELECT {SCHEMA}.purge_audit_prefix(:t, :upto)"), {"t": tenant_id, "upto": upto}
    )
    return int(deleted or 0), await audit_checkpoint(session, tenant_id)


async def audit_tenants(session: AsyncSession) -> list[UUID]:
    """Every chain (owner connection only: the app role sees one tenant at a time)."""
    rows = await session.execute(
        sa.select(audit_heads.c.tenant_id).union(sa.select(audit_log.c.tenant_id))
    )
    return sorted({r[0] for r in rows})


# notifications --------------------------------------------------------------------------


async def store_notification(session: AsyncSession, tenant_id: UUID, **values: Any) -> int | None:
    """Store one notification once; its seq, or None if it was already stored."""
    statement = (
        insert(notifications)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_nothing(index_elements=[notifications.c.id])
        .returning(notifications.c.seq)
    )
    seq: int | None = (await session.execute(statement)).scalar()
    return seq


async def list_notifications(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    role: str,
    subject: str,
    after_seq: int | None,
    before_seq: int | None,
    unread_only: bool,
    severity: str | None,
    limit: int,
    oldest_first: bool = False,
) -> list[NotificationRow]:
    n, r = notifications, notification_reads
    read = sa.exists().where(
        (r.c.tenant_id == tenant_id) & (r.c.notification_id == n.c.id) & (r.c.subject == subject)
    )
    query = (
        sa.select(n, read.label("read"))
        .where((n.c.tenant_id == tenant_id) & (sa.literal(role) == sa.any_(n.c.audience)))
        .order_by(n.c.seq.asc() if oldest_first else n.c.seq.desc())
        .limit(limit)
    )
    if after_seq is not None:
        query = query.where(n.c.seq > after_seq)
    if before_seq is not None:
        query = query.where(n.c.seq < before_seq)
    if unread_only:
        query = query.where(~read)
    if severity is not None:
        query = query.where(n.c.severity == severity)
    rows = await session.execute(query)
    return [
        NotificationRow(**{k: v for k, v in r._mapping.items() if k != "tenant_id"}) for r in rows
    ]


async def mark_read(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    role: str,
    subject: str,
    ids: list[UUID] | None,
    at: datetime,
) -> int:
    """Mark the given (or all visible) notifications read for ``subject``; how many were new."""
    n = notifications
    visible = sa.select(n.c.tenant_id, n.c.id, sa.literal(subject), sa.literal(at)).where(
        (n.c.tenant_id == tenant_id) & (sa.literal(role) == sa.any_(n.c.audience))
    )
    if ids is not None:
        visible = visible.where(n.c.id.in_(ids))
    statement = (
        insert(notification_reads)
        .from_select(["tenant_id", "notification_id", "subject", "read_at"], visible)
        .on_conflict_do_nothing()
    )
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def notification_exists(
    session: AsyncSession, tenant_id: UUID, notification_id: UUID, role: str
) -> bool:
    n = notifications
    found = await session.execute(
        sa.select(n.c.seq).where(
            (n.c.tenant_id == tenant_id)
            & (n.c.id == notification_id)
            & (sa.literal(role) == sa.any_(n.c.audience))
        )
    )
    return found.first() is not None

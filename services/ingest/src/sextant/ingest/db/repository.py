"""Reads and writes of ingest's tables. Functions take a session already scoped to a
tenant (except :func:`tenant_of`, which is how a webhook learns its tenant)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import lz4.frame
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.ingest.db import (
    SCHEMA,
    backfills,
    commit_list_queue,
    deliveries,
    hook_routes,
    leases,
    oauth_grants,
    oauth_refreshes,
    oauth_states,
    sources,
)
from sextant.runtime.db import TENANT_SETTING


@dataclass(frozen=True)
class SourceRow:
    id: UUID
    tenant_id: UUID
    workspace_id: UUID
    kind: str
    name: str
    secret_sealed: bytes
    credentials_sealed: bytes | None
    mapping: dict[str, Any]
    signature_failures: int
    created_at: datetime
    disabled_at: datetime | None
    deleted_at: datetime | None
    suspended_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryRow:
    id: UUID
    delivery_id: str
    event: str | None
    received_at: datetime
    outcome: str
    reason: str | None
    event_count: int


async def tenant_of(session: AsyncSession, source_id: UUID) -> UUID | None:
    tenant: UUID | None = await session.scalar(
        sa.select(hook_routes.c.tenant_id).where(hook_routes.c.source_id == source_id)
    )
    return tenant


async def add_source(session: AsyncSession, row: SourceRow) -> None:
    await session.execute(hook_routes.insert().values(source_id=row.id, tenant_id=row.tenant_id))
    await session.execute(
        sources.insert().values(
            tenant_id=row.tenant_id,
            id=row.id,
            workspace_id=row.workspace_id,
            kind=row.kind,
            name=row.name,
            secret_sealed=row.secret_sealed,
            credentials_sealed=row.credentials_sealed,
            mapping=row.mapping,
            created_at=row.created_at,
        )
    )


async def get_source(
    session: AsyncSession, source_id: UUID, *, include_deleted: bool = False
) -> SourceRow | None:
    query = sa.select(sources).where(sources.c.id == source_id)
    if not include_deleted:
        query = query.where(sources.c.deleted_at.is_(None))
    row = (await session.execute(query)).mappings().first()
    return SourceRow(**row) if row else None


async def list_sources(session: AsyncSession, workspace_id: UUID) -> list[SourceRow]:
    rows = (
        await session.execute(
            sa.select(sources)
            .where(sources.c.workspace_id == workspace_id, sources.c.deleted_at.is_(None))
            .order_by(sources.c.created_at, sources.c.id)
        )
    ).mappings()
    return [SourceRow(**row) for row in rows]


async def update_source(session: AsyncSession, source_id: UUID, **values: Any) -> None:
    await session.execute(sources.update().where(sources.c.id == source_id).values(**values))


async def routes_after(
    session: AsyncSession, after: UUID | None, limit: int
) -> list[tuple[UUID, UUID]]:
    """(source id, tenant id) of every source, deleted ones too, in id order after
    ``after``: how a walk over all tenants' sources (re-sealing) pages."""
    query = sa.select(hook_routes.c.source_id, hook_routes.c.tenant_id)
    if after is not None:
        query = query.where(hook_routes.c.source_id > after)
    rows = await session.execute(query.order_by(hook_routes.c.source_id).limit(limit))
    return [(row.source_id, row.tenant_id) for row in rows]


async def sealed_values(
    session: AsyncSession, source_ids: list[UUID]
) -> list[tuple[UUID, bytes, bytes | None]]:
    """(id, sealed secret, sealed credentials) of the tenant's sources among
    ``source_ids``, deleted ones too, locked until the transaction ends."""
    rows = await session.execute(
        sa.select(sources.c.id, sources.c.secret_sealed, sources.c.credentials_sealed)
        .where(sources.c.id.in_(source_ids))
        .with_for_update()
    )
    return [(row.id, row.secret_sealed, row.credentials_sealed) for row in rows]


async def count_signature_failures(session: AsyncSession, source_id: UUID, more: int) -> int:
    """Add ``more`` to the source's signature-failure count; returns the new count."""
    count: int = await session.scalar(
        sources.update()
        .where(sources.c.id == source_id)
        .values(signature_failures=sources.c.signature_failures + more)
        .returning(sources.c.signature_failures)
    )
    return count


@dataclass(frozen=True)
class NewDelivery:
    id: UUID
    source_id: UUID
    delivery_id: str
    event: str | None
    received_at: datetime
    body: bytes = field(repr=False)  # as received; stored compressed (see BODY_CODEC)
    outcome: str
    reason: str | None
    event_count: int
    meaning: bytes | None = None


# An outbox row as ``Outbox.rows`` writes it: event id, topic, key, envelope JSON.
OutboxRow = tuple[UUID, str, str, str]


async def store_deliveries(
    connection: asyncpg.Connection,
    tenant_id: UUID,
    rows: list[NewDelivery],
    events: list[tuple[UUID, OutboxRow]],
    lists: Sequence[tuple[UUID, CommitListAsk]] = (),
) -> set[UUID]:
    """Store a batch of raw deliveries, each once per (source, delivery id), and the
    outbox rows of those stored — ``events`` pairs each outbox row (:meth:`Outbox.rows`)
    with its delivery's row id —
    in one statement, so one round trip and one durable commit; returns the ids of the
    rows stored (the others were redeliveries, and their events are not staged again).
    ``lists`` pairs the merges whose commits are to be listed with their delivery's row
    id: queued with the delivery, once per change request (sextant.ingest.commits).

    This is the webhook hot path: the statement is its own transaction and sets the
    tenant for RLS itself, before its first row is checked, so it needs no BEGIN, tenant
    statement or COMMIT round trips (each one waits its turn on a busy event loop)."""
    if not rows:
        return set()
    columns = zip(
        *(
            (
                r.id,
                r.source_id,
                r.delivery_id,
                r.event,
                r.received_at,
                lz4.frame.compress(r.body),
                r.outcome,
                r.reason,
                r.event_count,
                r.meaning,
            )
            for r in rows
        ),
        strict=True,
    )
    event_columns = [
        [delivery for delivery, _ in events],
        *([row[i] for _, row in events] for i in range(4)),  # event_id, topic, key, JSON
    ]
    if not lists:
        stored = await connection.fetch(
            _STORE_DELIVERIES, tenant_id, str(tenant_id), *map(list, columns), *event_columns
        )
        return {record["id"] for record in stored}
    list_columns = [
        [delivery for delivery, _ in lists],
        [uuid7() for _ in lists],
        [ask.source_id for _, ask in lists],
        [ask.repository for _, ask in lists],
        [ask.number for _, ask in lists],
    ]
    stored = await connection.fetch(
        _STORE_DELIVERIES_AND_LISTS,
        tenant_id,
        str(tenant_id),
        *map(list, columns),
        *event_columns,
        *list_columns,
    )
    return {record["id"] for record in stored}


@dataclass(frozen=True)
class CommitListAsk:
    """A merge a webhook brought whose commits its source's API is to list."""

    source_id: UUID
    repository: str  # GitHub owner/name, GitLab project id
    number: int  # pull request number, merge request iid


# New bodies are LZ4 frames (a fifth of zlib's CPU on the hot path); rows say their codec.
BODY_CODEC = "lz4"
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lz4": lz4.frame.decompress,
    "zlib": zlib.decompress,
}

_STORE_DELIVERIES = f"""
WITH stored AS (
    INSERT INTO {SCHEMA}.deliveries (tenant_id, body_codec, id, source_id, delivery_id, event,
                                     received_at, body, outcome, reason, event_count, meaning)
    SELECT $1, '{BODY_CODEC}', d.*
    FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                $8::bytea[], $9::text[], $10::text[], $11::int[], $12::bytea[]) AS d
    -- the tenant for RLS, set (for this statement's transaction) before any row reaches it
    WHERE set_config('{TENANT_SETTING}', $2, true) = $2
    ON CONFLICT ON CONSTRAINT deliveries_once DO NOTHING
    RETURNING id
), staged AS (
    INSERT INTO {SCHEMA}.outbox (event_id, topic, key, envelope)
    SELECT e.event_id, e.topic, e.key, e.envelope
    FROM unnest($13::uuid[], $14::uuid[], $15::text[], $16::text[], $17::jsonb[])
         WITH ORDINALITY AS e(delivery, event_id, topic, key, envelope, n)
    JOIN stored ON stored.id = e.delivery
    ORDER BY e.n
    ON CONFLICT (event_id) DO NOTHING
)
SELECT id FROM stored"""

# The same, and the commit lists asked for by the deliveries stored, each queued now
# (db/leases.py).
_STORE_DELIVERIES_AND_LISTS = (
    _STORE_DELIVERIES.removesuffix("SELECT id FROM stored")
    + f""", listed AS (
    INSERT INTO {SCHEMA}.commit_lists (tenant_id, id, delivery_id, source_id, repository,
                                       number, status, attempts, commit_shas, created_at,
                                       updated_at)
    SELECT $1, l.id, l.delivery, l.source_id, l.repository, l.number, 'pending', 0, '{{}}',
           now(), now()
    FROM unnest($18::uuid[], $19::uuid[], $20::uuid[], $21::text[], $22::bigint[])
         AS l(delivery, id, source_id, repository, number)
    JOIN stored ON stored.id = l.delivery
    ON CONFLICT (source_id, repository, number) DO NOTHING
    RETURNING id
), queued AS (
    INSERT INTO {SCHEMA}.commit_list_queue (commit_list_id, tenant_id, due_at)
    SELECT listed.id, $1, now() FROM listed
    -- the listers woken at commit (once: PostgreSQL folds a transaction's equal NOTIFYs)
    RETURNING pg_notify('{leases.channel(commit_list_queue)}', '')
)
SELECT id FROM stored"""
)


async def recent_deliveries(
    session: AsyncSession, source_id: UUID, limit: int, before: UUID | None = None
) -> list[DeliveryRow]:
    """A source's deliveries, newest first; ``before`` continues after that delivery (a
    page's cursor holds only the last row's id: one that is gone compares with NULL, so
    nothing follows it)."""
    older: sa.ColumnElement[bool] = sa.true()
    if before is not None:
        its_time = sa.select(deliveries.c.received_at).where(deliveries.c.id == before)
        older = sa.tuple_(deliveries.c.received_at, deliveries.c.id) < sa.tuple_(
            its_time.scalar_subquery(), sa.literal(before)
        )
    rows = (
        await session.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.delivery_id,
                deliveries.c.event,
                deliveries.c.received_at,
                deliveries.c.outcome,
                deliveries.c.reason,
                deliveries.c.event_count,
            )
            .where(deliveries.c.source_id == source_id, older)
            .order_by(deliveries.c.received_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
    ).mappings()
    return [DeliveryRow(**row) for row in rows]


@dataclass(frozen=True)
class StoredDelivery:
    id: UUID
    delivery_id: str
    event: str | None
    received_at: datetime
    meaning: bytes | None
    body: bytes = field(repr=False)


async def deliveries_between(
    session: AsyncSession,
    source_id: UUID,
    since: datetime,
    until: datetime,
    after_id: UUID | None,
    limit: int,
) -> list[StoredDelivery]:
    """Stored deliveries received in [since, until), oldest first (ids are UUIDv7, so id
    order is arrival order), after ``after_id`` when paging."""
    query = (
        sa.select(
            deliveries.c.id,
            deliveries.c.delivery_id,
            deliveries.c.event,
            deliveries.c.received_at,
            deliveries.c.meaning,
            deliveries.c.body,
            deliveries.c.body_codec,
        )
        .where(
            deliveries.c.source_id == source_id,
            deliveries.c.received_at >= since,
            deliveries.c.received_at < until,
        )
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(deliveries.c.id > after_id)
    rows = (await session.execute(query)).all()
    return [
        StoredDelivery(
            r.id,
            r.delivery_id,
            r.event,
            r.received_at,
            r.meaning,
            _DECOMPRESS[r.body_codec](r.body),
        )
        for r in rows
    ]


async def get_delivery(session: AsyncSession, delivery_id: UUID) -> StoredDelivery | None:
    """A stored delivery by its row id, its body opened."""
    d = deliveries
    row = (
        await session.execute(
            sa.select(
                d.c.id,
                d.c.delivery_id,
                d.c.event,
                d.c.received_at,
                d.c.meaning,
                d.c.body,
                d.c.body_codec,
            ).where(d.c.id == delivery_id)
        )
    ).first()
    if row is None:
        return None
    body = _DECOMPRESS[row.body_codec](row.body)
    return StoredDelivery(row.id, row.delivery_id, row.event, row.received_at, row.meaning, body)


async def record_outcome(
    session: AsyncSession,
    id: UUID,
    outcome: str,
    reason: str | None,
    event_count: int,
    meaning: bytes | None,
) -> None:
    await session.execute(
        deliveries.update()
        .where(deliveries.c.id == id)
        .values(outcome=outcome, reason=reason, event_count=event_count, meaning=meaning)
    )


@dataclass(frozen=True)
class BackfillRow:
    id: UUID
    tenant_id: UUID
    source_id: UUID
    since: datetime
    status: str
    checkpoint: dict[str, str]
    progress: dict[str, dict[str, int]]
    error: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


async def latest_backfill(session: AsyncSession, source_id: UUID) -> BackfillRow | None:
    row = (
        (
            await session.execute(
                sa.select(backfills)
                .where(backfills.c.source_id == source_id)
                .order_by(backfills.c.started_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return BackfillRow(**row) if row else None


async def add_backfill(session: AsyncSession, row: BackfillRow) -> None:
    await session.execute(backfills.insert().values(**row.__dict__))


async def save_backfill(session: AsyncSession, id: UUID, **values: Any) -> None:
    await session.execute(backfills.update().where(backfills.c.id == id).values(**values))


async def suspend_sources(
    session: AsyncSession, workspace_id: UUID | None, at: datetime | None
) -> int:
    """Suspend (``at``) or resume (None) the tenant's sources, or one workspace's."""
    query = sources.update().values(suspended_at=at)
    if workspace_id is not None:
        query = query.where(sources.c.workspace_id == workspace_id)
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Jira OAuth 2.0 ------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthStateRow:
    state_hash: bytes
    tenant_id: UUID
    source_id: UUID
    started_by: str
    verifier_sealed: bytes
    redirect_uri: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class OAuthGrantRow:
    tenant_id: UUID
    source_id: UUID
    tokens_sealed: bytes = field(repr=False)
    cloud_id: str
    site_url: str
    scopes: str
    expires_at: datetime
    status: str  # connected | needs_reconnect
    error: str | None
    connected_by: str
    connected_at: datetime
    refreshed_at: datetime | None


async def add_oauth_state(
    session: AsyncSession, row: OAuthStateRow, prune_before: datetime
) -> None:
    """Keep a consent's state; states that expired before ``prune_before`` go."""
    await session.execute(oauth_states.delete().where(oauth_states.c.expires_at < prune_before))
    await session.execute(oauth_states.insert().values(**row.__dict__))


async def claim_oauth_state(
    session: AsyncSession, state_hash: bytes, at: datetime
) -> tuple[OAuthStateRow | None, bool]:
    """The state and whether this call used it (False: it was used before), marked used at
    ``at`` — under its row lock, so two callbacks with one state cannot both use it."""
    row = (
        (
            await session.execute(
                sa.select(oauth_states)
                .where(oauth_states.c.state_hash == state_hash)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None, False
    found = OAuthStateRow(**row)
    if found.used_at is not None:
        return found, False
    await session.execute(
        oauth_states.update().where(oauth_states.c.state_hash == state_hash).values(used_at=at)
    )
    return found, True


async def get_oauth_grant(
    session: AsyncSession, source_id: UUID, *, lock: bool = False
) -> OAuthGrantRow | None:
    """The source's grant; with ``lock``, held until the transaction ends, or None when
    another transaction holds it (a refresh under way elsewhere)."""
    query = sa.select(oauth_grants).where(oauth_grants.c.source_id == source_id)
    if lock:
        query = query.with_for_update(skip_locked=True)
    row = (await session.execute(query)).mappings().first()
    return OAuthGrantRow(**row) if row else None


async def save_oauth_grant(session: AsyncSession, row: OAuthGrantRow, refresh_at: datetime) -> None:
    """Store a grant (a new one replaces the source's old) and when to refresh it."""
    values = row.__dict__
    await session.execute(
        pg_insert(oauth_grants)
        .values(**values)
        .on_conflict_do_update(index_elements=[oauth_grants.c.source_id], set_=values)
    )
    await schedule_refresh(session, row.tenant_id, row.source_id, refresh_at)


async def update_oauth_grant(session: AsyncSession, source_id: UUID, **values: Any) -> None:
    await session.execute(
        oauth_grants.update().where(oauth_grants.c.source_id == source_id).values(**values)
    )


async def schedule_refresh(
    session: AsyncSession, tenant_id: UUID, source_id: UUID, refresh_at: datetime | None
) -> None:
    """Refresh the grant at ``refresh_at``; None: never (it needs a reconnect)."""
    await session.execute(oauth_refreshes.delete().where(oauth_refreshes.c.source_id == source_id))
    if refresh_at is not None:
        await session.execute(
            oauth_refreshes.insert().values(
                source_id=source_id, tenant_id=tenant_id, refresh_at=refresh_at
            )
        )


async def due_refreshes(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """(source id, tenant id) of grants due for a refresh, the most urgent first."""
    rows = await session.execute(
        sa.select(oauth_refreshes.c.source_id, oauth_refreshes.c.tenant_id)
        .where(oauth_refreshes.c.refresh_at <= now)
        .order_by(oauth_refreshes.c.refresh_at)
        .limit(limit)
    )
    return [(row.source_id, row.tenant_id) for row in rows]


async def sealed_grant_tokens(
    session: AsyncSession, source_ids: list[UUID]
) -> list[tuple[UUID, bytes]]:
    """(source id, sealed tokens) of the tenant's OAuth grants among ``source_ids``,
    locked until the transaction ends (a refresh under way is waited for)."""
    rows = await session.execute(
        sa.select(oauth_grants.c.source_id, oauth_grants.c.tokens_sealed)
        .where(oauth_grants.c.source_id.in_(source_ids))
        .with_for_update()
    )
    return [(row.source_id, row.tokens_sealed) for row in rows]


async def sealed_state_verifiers(
    session: AsyncSession, now: datetime
) -> list[tuple[bytes, UUID, bytes]]:
    """(state hash, source id, sealed verifier) of every consent still open, locked."""
    rows = await session.execute(
        sa.select(
            oauth_states.c.state_hash, oauth_states.c.source_id, oauth_states.c.verifier_sealed
        )
        .where(oauth_states.c.used_at.is_(None), oauth_states.c.expires_at > now)
        .with_for_update()
    )
    return [(row.state_hash, row.source_id, row.verifier_sealed) for row in rows]


async def update_state_verifier(session: AsyncSession, state_hash: bytes, sealed: bytes) -> None:
    await session.execute(
        oauth_states.update()
        .where(oauth_states.c.state_hash == state_hash)
        .values(verifier_sealed=sealed)
    )

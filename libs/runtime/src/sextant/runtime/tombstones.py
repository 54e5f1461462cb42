"""Purged tenants stay purged: a tombstone per tenant, and the lock that orders it.

A tenant's scope purge deletes its rows, but events of the tenant produced before it may
still be queued on the bus, and a handler already running may commit after the deletes;
either would bring rows back. So every service's schema has ``purged_tenants`` (the
platform's record, like the outbox: no row-level security), and two sides share one
transaction-scoped advisory lock per schema and tenant (:func:`tenant_lock`):

- the purge (:class:`sextant.runtime.purge.Purger`) takes it exclusively before it
  deletes anything and records the tombstone in the same transaction (:func:`bury`);
- the consumer takes it shared with the transaction's tenant setting (no round trip of
  its own, :func:`sextant.runtime.db.set_tenant`), then reads the tombstone in the
  statement that claims the inbox (:func:`sextant.runtime.outbox.claim_inbox_checked`).

A handler that took the lock first commits, and the purge, waiting on it, then deletes its
rows too; one that comes after waits for the purge to commit, and its next statement (a new
snapshot: READ COMMITTED) sees the tombstone. Its events are claimed, not handled. The read
cannot share the lock's statement: that statement's snapshot is taken before it waits.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts.events.platform import PurgeRequested
from sextant.contracts.registry import type_of
from sextant.runtime.db import identifier

PURGED_TENANTS = "purged_tenants"
PURGE_REQUESTED = type_of(PurgeRequested)
"""The one event a consumer handles for a purged tenant: a redelivered purge still answers."""


def purged_tenants_table(metadata: MetaData) -> Table:
    """Declare ``purged_tenants`` in a service's metadata (its schema)."""
    return Table(
        PURGED_TENANTS,
        metadata,
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        info={"cross_tenant": "the platform's record that a tenant is gone, like the outbox"},
    )


def tenant_lock(schema: str, tenant: UUID) -> str:
    """The text naming a tenant's purge lock in a schema (hashed by ``hashtextextended``).
    Per schema: a purge in one service never waits on another's consumers."""
    return f"sextant.tenant:{identifier(schema)}:{tenant}"


def purged_tenants_name(schema: str) -> str:
    return f"{identifier(schema)}.{PURGED_TENANTS}"


async def bury(session: AsyncSession, schema: str, tenant: UUID) -> None:
    """Wait for the tenant's handlers in flight, keep new ones out until commit, and record
    its tombstone (once: a redelivered purge adds nothing). Run it before the deletes: they
    are later statements, so they see what those handlers committed."""
    await session.execute(
        text(
            "WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0)))"
            f" INSERT INTO {purged_tenants_name(schema)} (tenant_id, purged_at)"
            " SELECT :tenant, now() FROM locked ON CONFLICT DO NOTHING"
        ),
        {"lock": tenant_lock(schema, tenant), "tenant": tenant},
    )


async def is_purged(session: AsyncSession, schema: str, tenant: UUID) -> bool:
    """Whether the tenant has a tombstone (for a handler that claims no inbox)."""
    query = text(
        f"SELECT EXISTS (SELECT 1 FROM {purged_tenants_name(schema)} WHERE tenant_id = :t)"
    )
    return bool((await session.execute(query, {"t": tenant})).scalar())

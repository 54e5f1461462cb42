"""Purged tenants and workspaces stay purged: a tombstone each, and the lock that orders it.

A tenant's or workspace's scope purge deletes its rows, but events of it produced before
the purge may still be queued on the bus, and a handler already running may commit after
the deletes; either would bring rows back. So every service's schema has
``purged_tenants`` and ``purged_workspaces`` (the platform's record, like the outbox: no
row-level security), and two sides share one transaction-scoped advisory lock per schema
and tenant (:func:`tenant_lock`; a workspace's purge takes its tenant's, so one lock keeps
the argument below true; it is rare, and only pauses that tenant's handlers):

- the purge (:class:`sextant.runtime.purge.Purger`) takes it exclusively before it
  deletes anything and records the tombstone in the same transaction (:func:`bury`);
- the consumer takes it shared with the transaction's tenant setting (no round trip of
  its own, :func:`sextant.runtime.db.set_tenant`), then reads the tenant's tombstone and
  those of the batch's workspaces in the statement that claims the inbox
  (:func:`sextant.runtime.outbox.claim_inbox_checked`).

A handler that took the lock first commits, and the purge, waiting on it, then deletes its
rows too; one that comes after waits for the purge to commit, and its next statement (a new
snapshot: READ COMMITTED) sees the tombstone. Its events are claimed, not handled
(:meth:`Tombstones.unhandled`; an event naming no workspace is the tenant's, untouched by a
workspace's). The read cannot share the lock's statement: that statement's snapshot is
taken before it waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.events.platform import ConfigChanged, PurgeRequested
from sextant.contracts.registry import type_of
from sextant.runtime.db import driver_connection, identifier

PURGED_TENANTS = "purged_tenants"
PURGED_WORKSPACES = "purged_workspaces"
PURGE_REQUESTED = type_of(PurgeRequested)
"""The one event a consumer handles for a purged tenant: a redelivered purge still answers."""
HANDLED_IN_PURGED_WORKSPACES = frozenset({PURGE_REQUESTED, type_of(ConfigChanged)})
"""Also a configuration change: the gateway's audit chain is the tenant's, and a
workspace's purge keeps it (it has no workspace column), so a change still queued is
recorded like those before it."""


def purged_tenants_table(metadata: MetaData) -> Table:
    """Declare ``purged_tenants`` in a service's metadata (its schema)."""
    return Table(
        PURGED_TENANTS,
        metadata,
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        info={"cross_tenant": "the platform's record that a tenant is gone, like the outbox"},
    )


def purged_workspaces_table(metadata: MetaData) -> Table:
    """Declare ``purged_workspaces`` in a service's metadata (its schema)."""
    return Table(
        PURGED_WORKSPACES,
        metadata,
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        info={"cross_tenant": "the platform's record that a workspace is gone, like the outbox"},
    )


def tenant_lock(schema: str, tenant: UUID) -> str:
    """The text naming a tenant's purge lock in a schema (hashed by ``hashtextextended``).
    Per schema: a purge in one service never waits on another's consumers."""
    return f"sextant.tenant:{identifier(schema)}:{tenant}"


def _name(schema: str, table: str) -> str:
    return f"{identifier(schema)}.{table}"


async def bury(
    session: AsyncSession, schema: str, tenant: UUID, workspace: UUID | None = None
) -> None:
    """Wait for the tenant's handlers in flight, keep new ones out until commit, and record
    the tombstone of the tenant, or of its ``workspace`` (once: a redelivered purge adds
    nothing). Run it before the deletes: they are later statements, so they see what those
    handlers committed."""
    if workspace is None:
        table, columns, values = PURGED_TENANTS, "tenant_id", ":tenant"
    else:
        table, columns, values = PURGED_WORKSPACES, "tenant_id, workspace_id", ":tenant, :ws"
    await session.execute(
        text(
            "WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0)))"
            f" INSERT INTO {_name(schema, table)} ({columns}, purged_at)"
            f" SELECT {values}, now() FROM locked ON CONFLICT DO NOTHING"
        ),
        {"lock": tenant_lock(schema, tenant), "tenant": tenant, "ws": workspace},
    )


@dataclass(frozen=True)
class Tombstones:
    """What a transaction read of a tenant's tombstones: its own, and those among the
    workspaces of the events it is about to handle."""

    tenant: bool = False
    workspaces: frozenset[UUID] = frozenset()

    def unhandled(self, envelope: Envelope) -> str | None:
        """Why ``envelope`` is claimed but not handled (its outcome); None: it is handled."""
        if envelope.type == PURGE_REQUESTED:
            return None
        if self.tenant:
            return "tenant_purged"
        if (
            envelope.workspaceid in self.workspaces
            and envelope.type not in HANDLED_IN_PURGED_WORKSPACES
        ):
            return "workspace_purged"
        return None


def workspaces_of(envelopes: Iterable[Envelope]) -> list[UUID]:
    """The workspaces the envelopes name (those naming none are their tenant's)."""
    return list({e.workspaceid for e in envelopes if e.workspaceid is not None})


def reading_tombstones(schema: str, tenant: int, workspaces: int) -> str:
    """Two columns of a select reading the tenant's tombstone and its workspaces' among
    ``$workspaces`` (``tenant`` and ``workspaces``: the parameters' numbers); the row's
    values read by :func:`tombstones_of`."""
    return (
        f"EXISTS (SELECT 1 FROM {_name(schema, PURGED_TENANTS)} WHERE tenant_id = ${tenant}),"
        f" ARRAY(SELECT workspace_id FROM {_name(schema, PURGED_WORKSPACES)}"
        f" WHERE tenant_id = ${tenant} AND workspace_id = ANY(${workspaces}::uuid[]))"
    )


def tombstones_of(tenant: Any, workspaces: Any) -> Tombstones:
    return Tombstones(tenant=bool(tenant), workspaces=frozenset(workspaces))


async def read_tombstones(
    session: AsyncSession, schema: str, tenant: UUID, workspaces: list[UUID]
) -> Tombstones:
    """The tenant's tombstones (for a handler that claims no inbox)."""
    driver = await driver_connection(session)
    row = await driver.fetchrow(f"SELECT {reading_tombstones(schema, 1, 2)}", tenant, workspaces)
    return tombstones_of(row[0], row[1])

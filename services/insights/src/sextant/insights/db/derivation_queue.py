"""The derivation queue: what each projecting batch touched — per repository the change
requests its events named, the branches and commits it pushed, whether what shipped may
have moved — and the services of its incidents, for the worker (day_worker.py) to derive
after it: first commit and review, linkage, held-up gate questions.

A batch only notes; it takes no derivation lock, so the partitions' batches of a backlog
no longer wait for each other, and a repository touched by many batches is derived once
per round rather than once per batch. An append log, a row per repository per
transaction, for the reason the DeveloperMetrics queue is one (db/day_queue.py): the
worker deletes exactly the rows it read, and derives with later statements (read
committed) that see every record of the transactions that wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import day_queue, metadata
from sextant.insights.db.projection import Touch
from sextant.runtime.db import driver_connection
from sextant.runtime.pgnotify import notify

Repo = tuple[UUID, str]  # (workspace, repository id)

derivation_queue = sa.Table(
    "derivation_queue",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    # a repository's row (repository_id set) or an incident service's (service set)
    sa.Column("repository_id", sa.Text),
    sa.Column("service", sa.Text),
    sa.Column("change_ids", ARRAY(sa.Uuid), nullable=False),
    sa.Column("branches", ARRAY(sa.Text), nullable=False),
    sa.Column("shas", ARRAY(sa.Text), nullable=False),
    sa.Column("linked", sa.Boolean, nullable=False),
    info={
        "cross_tenant": "the worker finds the tenants with repositories to derive, then works "
        "as each"
    },
)
sa.Index("derivation_queue_tenant", derivation_queue.c.tenant_id, derivation_queue.c.id)


@dataclass
class Noted:
    """What one batch touched: repositories to derive (a build only gates: an empty
    :class:`Touch`), and incident services whose held-up questions to ask again."""

    repositories: dict[Repo, Touch] = field(default_factory=dict)
    services: set[tuple[UUID, str]] = field(default_factory=set)


@dataclass
class Taken:
    """A round's share of one tenant's queue: the rows read, merged per repository."""

    ids: list[int] = field(default_factory=list)
    noted: Noted = field(default_factory=Noted)


async def note(session: AsyncSession, tenant: UUID, noted: Noted) -> None:
    """Queue what a batch touched, in its transaction (one statement); the worker is woken
    at commit."""
    rows: list[tuple[UUID, str | None, str | None, list[UUID], list[str], list[str], bool]]
    rows = [
        (w, r, None, sorted(t.changes), sorted(t.branches), sorted(t.shas), t.linked)
        for (w, r), t in sorted(noted.repositories.items())
    ]
    rows += [(w, None, s, [], [], [], False) for w, s in sorted(noted.services)]
    if not rows:
        return
    driver = await driver_connection(session)
    await driver.executemany(
        "INSERT INTO insights.derivation_queue"
        " (tenant_id, workspace_id, repository_id, service, change_ids, branches, shas, linked)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(tenant, *row) for row in rows],
    )
    await notify(session, day_queue.CHANNEL, "")


async def take(session: AsyncSession, tenant: UUID, limit: int) -> Taken:
    """The oldest ``limit`` rows of the tenant's queue, merged per repository (they stay
    until :func:`forget`)."""
    q = derivation_queue
    rows = await session.execute(
        sa.select(q).where(q.c.tenant_id == tenant).order_by(q.c.id).limit(limit)
    )
    taken = Taken()
    for row in rows:
        taken.ids.append(row.id)
        if row.repository_id is None:
            taken.noted.services.add((row.workspace_id, row.service))
            continue
        touch = taken.noted.repositories.setdefault((row.workspace_id, row.repository_id), Touch())
        touch.changes.update(row.change_ids)
        touch.branches.update(row.branches)
        touch.shas.update(row.shas)
        touch.linked |= row.linked
    return taken


async def forget(session: AsyncSession, ids: Iterable[int]) -> None:
    """Drop the rows a round derived (not rows queued since: they wait for the next)."""
    wanted = list(ids)
    if wanted:
        q = derivation_queue
        await session.execute(
            sa.delete(q).where(q.c.id == sa.any_(sa.cast(wanted, ARRAY(sa.BigInteger))))
        )


async def pending_tenants(session: AsyncSession) -> set[UUID]:
    """The tenants with something to derive (of every tenant: call it outside any tenant)."""
    q = derivation_queue
    return set((await session.execute(sa.select(q.c.tenant_id).distinct())).scalars())

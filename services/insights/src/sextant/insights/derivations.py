"""What the worker derives of the repositories the projecting batches touched (queued in
db/derivation_queue.py), once per round however many batches touched each: the first
commit and review of their change requests, what their deployments shipped, and the gate
questions still held up on them. Runs in the worker's round, after the batches that
queued it committed, so it reads every row they wrote."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import developer_days, projection
from sextant.insights.db.derivation_queue import Noted
from sextant.insights.db.developer_days import Pair
from sextant.insights.gates import service as gates
from sextant.insights.settings import insights_settings
from sextant.runtime.outbox import Outbox


async def derive(session: AsyncSession, outbox: Outbox, tenant: UUID, noted: Noted) -> set[Pair]:
    """Derive ``noted`` in the caller's transaction; return the (author, merge day)s whose
    cycle time pushed commits may have moved (their first commit did), to recompute."""
    await projection.refresh_change_times(session, tenant, noted.repositories)
    for (workspace, repository), touch in sorted(noted.repositories.items()):
        if touch.linked:
            await projection.relink_repository(session, tenant, workspace, repository)
    budget = insights_settings().reevaluations_per_batch
    held_up = await gates.held_up(
        session, tenant, {w for w, _ in noted.repositories} | {w for w, _ in noted.services}
    )
    for workspace, repository in sorted(noted.repositories):
        if workspace in held_up:
            budget -= await gates.reevaluate(session, outbox, tenant, workspace, repository, budget)
    for workspace, service in sorted(noted.services):  # a resolved one may let one pass
        if workspace in held_up:
            budget -= await gates.reevaluate(
                session, outbox, tenant, workspace, None, budget, service
            )
    pushes = [(w, r, t.branches, t.shas) for (w, r), t in noted.repositories.items() if t.shas]
    return await developer_days.merged_days_of_pushes(session, tenant, pushes)

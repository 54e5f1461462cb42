"""Runs and feedback: a run reads the workspace's activity, detects, asks for suggestions
(Gemini or templates), holds back repeats, ranks and stores them with their events; a
verdict updates the suggestion, the acceptance counts and says so on the stream.

A run never holds a transaction while Gemini thinks: it reads in one, calls, writes in
another. A worker leases queued runs (``health_queue``), so replicas share them and one
that dies leaves its run to another once the lease runs out; the weekly schedule puts each
workspace's run, and each team's, on that queue once a week (``health_schedules``, rows
skipped while locked).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.contracts.events.platform import (
    NotificationRaised,
    SuggestionCreated,
    SuggestionFeedbackRecorded,
)
from sextant.insights.db import teams
from sextant.insights.health import db, learning
from sextant.insights.health.detectors import (
    HISTORY,
    Change,
    Finding,
    Review,
    TeamActivity,
    WorkItem,
    detect,
    team_weeks,
)
from sextant.insights.health.gemini import Gemini, Outcome, build, suggest
from sextant.insights.health.schemas import FeedbackRequest, Person, Run, Suggestion
from sextant.insights.health.suggestions import Draft
from sextant.insights.settings import HealthSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.errors import Conflict, NotFound
from sextant.runtime.outbox import Outbox
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()
WEEK = timedelta(days=7)
LEASE = timedelta(minutes=10)
VERDICT = {"confirm": "confirmed", "reject": "rejected", "snooze": "snoozed"}


def run_view(row: sa.Row[Any]) -> Run:
    return Run.model_validate(row._mapping, from_attributes=False)


def suggestion_view(row: sa.Row[Any]) -> Suggestion:
    m = dict(row._mapping)
    m["people"] = [Person(alias=a, developer_id=UUID(p)) for a, p in m["aliases"].items()]
    return Suggestion.model_validate(m)


def members_of(
    changes: Sequence[Change], reviews: Sequence[Review], items: Sequence[WorkItem]
) -> tuple[UUID, ...]:
    """Everyone active in the workspace: authors, reviewers, assignees."""
    people = [c.author for c in changes] + [r.reviewer for r in reviews]
    people += [i.assignee for i in items if i.assignee is not None]
    return tuple(dict.fromkeys(people))


def team_activity(
    now: datetime,
    changes: Sequence[Change],
    reviews: Sequence[Review],
    items: Sequence[WorkItem],
    team: set[UUID] | None,
) -> TeamActivity:
    """What a run looks at: the whole workspace's activity, or with ``team`` (its members
    today) only the team's: the changes its members wrote, the reviews they gave, the
    items assigned to them. A change still counts its first review whoever gave it."""
    if team is not None:
        changes = [c for c in changes if c.author in team]
        reviews = [r for r in reviews if r.reviewer in team]
        items = [i for i in items if i.assignee in team]
    members = members_of(changes, reviews, items)
    if team is not None:
        members = tuple(sorted(team, key=str))
    return TeamActivity(now, members, changes, reviews, items, team_weeks(changes, reviews, now))


def _finding_json(f: Finding) -> dict[str, Any]:
    out = asdict(f)
    out["people"] = [str(p) for p in f.people]
    out["change_ids"] = [str(i) for i in f.change_ids]
    out["item_ids"] = [str(i) for i in f.item_ids]
    return out


async def request_run(
    session: AsyncSession,
    tenant: UUID,
    workspace: UUID,
    team: UUID | None,
    trigger: str,
    by: str,
    now: datetime,
) -> sa.Row[Any]:
    """Queue a run (and put the workspace's, or the team's, run on the weekly schedule)."""
    row = await db.create_run(
        session,
        {
            "tenant_id": tenant,
            "id": uuid7(),
            "workspace_id": workspace,
            "team_id": team,
            "trigger": trigger,
            "status": "queued",
            "progress": 0,
            "step": "queued",
            "requested_by": by,
            "created_at": now,
        },
    )
    await db.schedule(session, tenant, workspace, team, now + WEEK)
    return row


class HealthWorker:
    """Runs queued runs and puts due workspaces on the queue, in the background."""

    def __init__(self, state: ServiceState, settings: HealthSettings, outbox: Outbox) -> None:
        self.state, self.settings, self.outbox = state, settings, outbox
        self.gemini: Gemini | None = build(settings)
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="insights-health-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self.gemini is not None:
            await self.gemini.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                if self.settings.schedule_enabled:
                    await self.schedule_due(datetime.now(UTC))
                while await self.run_next():
                    pass
            except Exception as exc:
                log.warning("insights.health_worker_failed", error=str(exc))
            try:
                async with asyncio.timeout(self.settings.schedule_poll_seconds):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()

    async def schedule_due(self, now: datetime) -> int:
        """Queue a run for every workspace and team whose week is up; returns how many."""
        async with self.state.db.transaction() as session:
            due = await db.take_due(session, now, WEEK)
        for tenant, workspace, team in due:
            async with self.state.db.transaction(tenant) as session:
                await request_run(session, tenant, workspace, team, "schedule", "schedule", now)
        return len(due)

    async def run_next(self) -> bool:
        """Carry out one queued run; False when none is waiting."""
        async with self.state.db.transaction() as session:
            claimed = await db.claim_next(session, LEASE)
        if claimed is None:
            return False
        run_id, tenant = claimed
        try:
            await self.carry_out(tenant, run_id)
        except Exception as exc:
            log.error("insights.health_run_failed", run_id=str(run_id), error=repr(exc))
            async with self.state.db.transaction(tenant) as session:
                await db.update_run(
                    session,
                    tenant,
                    run_id,
                    status="failed",
                    step="failed",
                    error=f"the run failed: {type(exc).__name__}",
                    finished_at=datetime.now(UTC),
                )
                await db.dequeue(session, run_id)
        return True

    async def _step(self, tenant: UUID, run_id: UUID, progress: int, step: str) -> None:
        async with self.state.db.transaction(tenant) as session:
            await db.update_run(session, tenant, run_id, progress=progress, step=step)

    async def carry_out(self, tenant: UUID, run_id: UUID) -> None:
        now = datetime.now(UTC)
        async with self.state.db.transaction(tenant) as session:
            await db.update_run(
                session,
                tenant,
                run_id,
                status="running",
                step="reading",
                progress=10,
                started_at=now,
            )
            row = (
                await session.execute(
                    sa.select(db.health_runs).where(db.health_runs.c.id == run_id)
                )
            ).one()
            changes, reviews, items = await db.activity(
                session, tenant, row.workspace_id, now - HISTORY
            )
            team = None
            if row.team_id is not None:
                team = await teams.members_on(session, tenant, row.team_id, now.date())
            spent = await db.tokens_spent(session, tenant, now.date())
        findings = detect(team_activity(now, changes, reviews, items, team))
        await self._step(tenant, run_id, 40, "suggesting")
        outcome = await suggest(
            findings,
            self.gemini,
            tokens_left=self.settings.daily_token_budget - spent,
            prompt_version=self.settings.prompt_version,
        )
        await self._store(tenant, row, findings, outcome, datetime.now(UTC))

    async def _store(
        self,
        tenant: UUID,
        run: sa.Row[Any],
        findings: list[Finding],
        outcome: Outcome,
        now: datetime,
    ) -> None:
        by_id = {f.id: f for f in findings}
        cooldown = timedelta(days=self.settings.cooldown_days)
        async with self.state.db.transaction(tenant) as session:
            if outcome.tokens:
                await db.spend_tokens(session, tenant, now.date(), outcome.tokens)
            held = [
                learning.key(h.kind, h.people, h.area)
                for h in await db.recent_decisions(
                    session, tenant, run.workspace_id, now - cooldown, now
                )
            ]
            made = learning.fresh(outcome.drafts, held)
            counts = await db.acceptance(session, tenant)
            rows = [self._row(tenant, run, d, by_id, counts, now) for d in made]
            await db.add_suggestions(session, rows)
            for r, d in zip(rows, made, strict=True):
                await self._announce(session, tenant, run, r, d)
            result = {
                "findings": len(findings),
                "suggestions": len(made),
                "held_back": len(outcome.drafts) - len(made),
                "written_by": outcome.written_by,
                "fallback": outcome.fallback,
                "dropped": outcome.dropped,
                "tokens": outcome.tokens,
                "by_kind": dict(Counter(f.kind for f in findings)),
            }
            await db.update_run(
                session,
                tenant,
                run.id,
                status="succeeded",
                step="done",
                progress=100,
                finished_at=now,
                result=result,
            )
            await db.dequeue(session, run.id)

    def _row(
        self,
        tenant: UUID,
        run: sa.Row[Any],
        d: Draft,
        by_id: dict[str, Finding],
        counts: dict[str, tuple[int, int, int]],
        now: datetime,
    ) -> dict[str, Any]:
        confirmed, rejected, _ = counts.get(d.kind, (0, 0, 0))
        return {
            "tenant_id": tenant,
            "id": uuid7(),
            "run_id": run.id,
            "workspace_id": run.workspace_id,
            "team_id": run.team_id,
            "kind": d.kind,
            "severity": d.severity,
            "title": d.title,
            "action": d.action,
            "rationale": d.rationale,
            "finding_ids": list(d.finding_ids),
            "findings": [_finding_json(by_id[i]) for i in d.finding_ids],
            "people": list(d.people),
            "aliases": {a: str(p) for a, p in d.aliases.items()},
            "area": d.area,
            "written_by": d.written_by,
            "rank": learning.rank(d.severity, confirmed, rejected),
            "status": "open",
            "created_at": now,
        }

    async def _announce(
        self,
        session: AsyncSession,
        tenant: UUID,
        run: sa.Row[Any],
        row: dict[str, Any],
        d: Draft,
    ) -> None:
        entity = f"suggestion:{row['id']}"
        created = SuggestionCreated(
            suggestion_id=row["id"],
            scope=f"workspace:{run.workspace_id}",
            title=d.title[:200],
            body=d.action,
            generator="llm" if d.written_by == "model" else "deterministic",
            evidence=list(d.finding_ids),
            kind=d.kind,
            severity=d.severity,
            people=list(d.people),
            run_id=run.id,
        )
        events: list[Any] = [created]
        if d.severity == "high":
            events.append(
                NotificationRaised(
                    notification_id=uuid7(),
                    severity="warning",
                    audience=["manager", "tenant_admin"],
                    title=f"Team health: {d.title}"[:200],
                    body=d.action,
                    link=f"/v1/suggestions?scope=workspace:{run.workspace_id}",
                    raised_by="insights",
                )
            )
        for event in events:
            await self.outbox.add(
                session, event, tenant_id=tenant, workspace_id=run.workspace_id, entity=entity
            )


async def record_feedback(
    session: AsyncSession,
    outbox: Outbox,
    tenant: UUID,
    workspaces: list[UUID],
    suggestion_id: UUID,
    feedback: FeedbackRequest,
    by: str,
    now: datetime,
) -> Suggestion:
    """Record a verdict once: a suggestion already decided answers 409 (a snoozed one may
    be confirmed or rejected later)."""
    row = await db.suggestion(session, tenant, workspaces, suggestion_id, lock=True)
    if row is None:
        raise NotFound(f"no suggestion {suggestion_id} in the scope")
    if row.status in ("confirmed", "rejected"):
        raise Conflict(f"suggestion {suggestion_id} was already {row.status}")
    verdict = VERDICT[feedback.verdict]
    values: dict[str, Any] = {"status": verdict, "decided_at": now}
    values["snoozed_until"] = (
        now + timedelta(days=feedback.snooze_days) if verdict == "snoozed" else None
    )
    updated = await db.decide(
        session,
        tenant,
        suggestion_id,
        values,
        {
            "tenant_id": tenant,
            "id": uuid7(),
            "suggestion_id": suggestion_id,
            "verdict": verdict,
            "reason": feedback.reason,
            "by": by,
            "at": now,
        },
    )
    await db.count_verdict(session, tenant, row.kind, verdict)
    await outbox.add(
        session,
        SuggestionFeedbackRecorded(
            suggestion_id=suggestion_id,
            verdict=verdict,
            by=by,
            comment=feedback.reason,
            kind=row.kind,
        ),
        tenant_id=tenant,
        workspace_id=row.workspace_id,
        entity=f"suggestion:{suggestion_id}",
    )
    return suggestion_view(updated)


def worker_of(state: ServiceState) -> HealthWorker:
    worker: HealthWorker = state.extras["health_worker"]
    return worker


async def start(state: ServiceState) -> None:
    worker = HealthWorker(state, HealthSettings(), state.outbox)
    state.extras["health_worker"] = worker
    await worker.start()


async def stop(state: ServiceState) -> None:
    worker = state.extras.get("health_worker")
    if worker is not None:
        await worker.stop()

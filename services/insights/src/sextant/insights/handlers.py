"""Insights's event handlers: project attributed activity and follow identity.

Both are :class:`~sextant.runtime.consumer.Batched`: a backlog is projected a batch of one
tenant's events at a time, in order, in one transaction (a batch that fails is handled
again one event at a time by the runtime, so retries and the DLQ stay per event). What a
batch touched is only noted (db/derivation_queue.py): the worker (day_worker.py) derives it
after the batch commits, once per round however many batches touched a repository — the
first commit and review of its change requests, what its deployments shipped
(domain/linkage.py), its held-up gate questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, data_model_for
from sextant.contracts.events.activity import (
    BuildFinished,
    ChangeRequest,
    ChangeRequestClosed,
    ChangeRequestMerged,
    ChangeRequestOpened,
    ChangeRequestUpdated,
    CommitsPushed,
    DeploymentStatusChanged,
    IncidentOpened,
    IncidentResolved,
    ReviewSubmitted,
    WorkItemAssigned,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import Actor, Repository
from sextant.contracts.events.platform import (
    ActivityAttributed,
    AliasMoved,
    DeveloperCreated,
    DevelopersMerged,
    DeveloperSplit,
    DeveloperUserLinked,
    StaleFlagDismissed,
    TeamCreated,
    TeamDeleted,
    TeamMembershipChanged,
    WorkItemFlaggedStale,
)
from sextant.contracts.registry import type_of
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, FORECAST, IDENTITY
from sextant.insights.db import (
    day_queue,
    derivation_queue,
    developer_days,
    projection,
    spine,
    teams,
)
from sextant.insights.db.developer_days import Pair, utc_day
from sextant.insights.db.projection import Person, record_id
from sextant.insights.health import db as health_db
from sextant.runtime.consumer import Batched, Handler, each_in_context
from sextant.runtime.outbox import Outbox

OUTBOX = Outbox(spine.outbox, source="/sextant/insights")

PROJECTED = (
    ".change_request.",
    ".commits.",
    ".build.",
    ".deployment.",
    ".incident.",
    ".work_item.",
)
ASSIGNEE_PATH = "work_item.assignee"
"""Where identity's attribution names a work item's assignee."""

Touched = set[tuple[UUID, str]]  # (workspace, repository id)


class Batch:
    """One batch's events of one tenant, and the repositories they touched."""

    def __init__(self, session: AsyncSession, tenant: UUID) -> None:
        self.session = session
        self.tenant = tenant
        self.touched: dict[tuple[UUID, str], projection.Touch] = {}
        self.gated: Touched = set()  # facts a gate reads moved, nothing to derive (builds)
        self.incidents: set[tuple[UUID, str]] = set()  # (workspace, service) of incidents
        # DeveloperMetrics to recompute, by the developer ids the events were attributed to:
        # exact days, and days from which every later row's WIP may have moved.
        self.days: set[Pair] = set()
        self.wip_from: set[Pair] = set()
        self.openings: dict[UUID, Pair] = {}  # change request → (author, day it opened)
        # Written at the end, each table at once: change requests, then pushes.
        self.changes: dict[UUID, projection.ChangeRequestWrites] = {}
        self.pushes: dict[UUID, list[projection.PushRecord]] = {}

    def repository(self, workspace: UUID, repository_id: str) -> projection.Touch:
        """What the batch wrote of the repository so far."""
        return self.touched.setdefault((workspace, repository_id), projection.Touch())

    def touch(self, person: Person, at: datetime) -> None:
        """``person``'s figures of the day of ``at`` may change."""
        if person.developer_id is not None:
            self.days.add((person.developer_id, utc_day(at)))

    async def finish(self) -> None:
        """Write the change requests and pushes, then note what the batch touched for the
        worker to derive (db/derivation_queue.py) and the developers' days it touched
        for it to recompute after that (db/day_queue.py). Deriving here, per batch and
        under per-repository locks, serialised a backlog's batches (see the README)."""
        for workspace, writes in sorted(self.changes.items()):
            created = await projection.record_changes(self.session, self.tenant, workspace, writes)
            # A change request first seen is open from its opening on: every later day's
            # WIP moved (a later event of it moves none, unless it merges or closes it).
            self.wip_from |= {self.openings[c] for c in created if c in self.openings}
        for workspace, pushed in sorted(self.pushes.items()):
            moved = await projection.record_pushes(self.session, self.tenant, workspace, pushed)
            for repository, branches in moved.items():
                self.repository(workspace, repository).pushed(branches, ())
        for key in self.gated:
            self.touched.setdefault(key, projection.Touch())
        noted = derivation_queue.Noted(self.touched, self.incidents)
        await derivation_queue.note(self.session, self.tenant, noted)
        await day_queue.note(self.session, self.tenant, self.days, self.wip_from)

    def ends(self, author: Person, at: datetime) -> None:
        """``author``'s change request stopped being open at ``at`` (merged or closed):
        the WIP of that day and every later one may have moved."""
        if author.developer_id is not None:
            self.wip_from.add((author.developer_id, utc_day(at)))


def _person(attributed: ActivityAttributed, path: str, actor: Actor | None) -> Person:
    """The developer identity resolved for the actor at ``path``, and whether it is a bot."""
    found = next((a for a in attributed.attributions if a.path == path), None)
    return Person(
        found.developer_id if found else None,
        actor.is_bot if actor is not None else False,
        found.alias_id if found else None,
    )


def _change(attributed: ActivityAttributed, cr: ChangeRequest) -> projection.ChangeSnapshot:
    return projection.ChangeSnapshot(
        id=record_id("change_request", cr.source.source_id, cr.source.external_id),
        source_kind=cr.source.kind,
        external_id=cr.source.external_id,
        url=cr.source.url,
        repository_id=cr.repository.external_id,
        repository=cr.repository.full_name,
        number=cr.number,
        title=cr.title,
        author=_person(attributed, "change_request.author", cr.author),
        base_branch=cr.base_branch,
        head_branch=cr.head_branch,
        into_default_branch=cr.into_default_branch,
        draft=cr.draft,
        labels=list(cr.labels),
        opened_at=cr.created_at,
    )


def _repository(repository: Repository | None) -> tuple[str | None, str | None]:
    return (None, None) if repository is None else (repository.external_id, repository.full_name)


async def on_attributed_activity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Project a batch of one tenant's attributed events, in order; what they touched is
    derived by the worker after the batch commits (:meth:`Batch.finish`)."""
    batch = Batch(session, envelopes[0].tenantid)
    # shared with the other batches, until commit: an identity change waits for the
    # records a batch attributes before it moves records between developers
    await developer_days.lock_tenant_days(session, batch.tenant, exclusive=False)
    for envelope in each_in_context(envelopes):
        attributed = ActivityAttributed.model_validate(envelope.data)
        if envelope.workspaceid is None or not any(
            part in attributed.original_type for part in PROJECTED
        ):
            continue  # sprints are forecast's; nothing else is ours
        event = data_model_for(attributed.original_type).model_validate(attributed.original)
        await _project(batch, envelope.workspaceid, attributed, event)
    await batch.finish()


async def _project(
    batch: Batch, workspace: UUID, attributed: ActivityAttributed, event: object
) -> None:
    """One attributed event of ``workspace`` into the projections."""
    session, tenant = batch.session, batch.tenant
    if isinstance(
        event,
        ChangeRequestOpened
        | ChangeRequestUpdated
        | ReviewSubmitted
        | ChangeRequestMerged
        | ChangeRequestClosed,
    ):
        change = _change(attributed, event.change_request)
        at = (
            event.merged_at
            if isinstance(event, ChangeRequestMerged)
            else event.closed_at
            if isinstance(event, ChangeRequestClosed)
            else event.occurred_at
        )
        writes = batch.changes.setdefault(workspace, projection.ChangeRequestWrites())
        writes.snapshot(change, at)
        touched = batch.repository(workspace, change.repository_id)
        touched.changes.add(change.id)
        batch.touch(change.author, change.opened_at)
        if change.author.developer_id is not None:
            batch.openings[change.id] = (change.author.developer_id, utc_day(change.opened_at))
        if isinstance(event, ReviewSubmitted):
            reviewer = _person(attributed, "reviewer", event.reviewer)
            writes.review(change.id, event.review_id, reviewer, event.state, event.occurred_at)
            batch.touch(reviewer, event.occurred_at)
        elif isinstance(event, ChangeRequestMerged):
            writes.merge(
                change.id, event.merge_sha, event.commit_shas, event.commits_source, event.merged_at
            )
            touched.linked = True
            batch.touch(change.author, event.merged_at)
            batch.ends(change.author, event.merged_at)
        elif isinstance(event, ChangeRequestClosed):
            writes.close(change.id, event.closed_at)
            batch.touch(change.author, event.closed_at)
            batch.ends(change.author, event.closed_at)
    elif isinstance(event, CommitsPushed):
        push = projection.PushRecord(
            event_id=attributed.original_id,
            repository_id=event.repository.external_id,
            branch=event.branch,
            into_default_branch=event.into_default_branch,
            before_sha=event.before_sha,
            after_sha=event.after_sha,
            forced=event.forced,
            pusher=_person(attributed, "pusher", event.pusher),
            commits=[
                projection.PushedCommit(
                    sha=c.sha,
                    title=c.title,
                    author=_person(attributed, f"commits[{i}].author", c.author),
                    authored_at=c.authored_at,
                    committed_at=c.committed_at,
                )
                for i, c in enumerate(event.commits)
            ],
            pushed_at=event.occurred_at,
        )
        batch.pushes.setdefault(workspace, []).append(push)
        batch.repository(workspace, push.repository_id).pushed([push.branch], push.shas)
        for c in push.commits:
            batch.touch(c.author, c.authored_at)
    elif isinstance(event, BuildFinished):
        repository_id, repository = _repository(event.repository)
        await projection.record_build(
            session,
            tenant,
            workspace,
            projection.BuildRecord(
                id=record_id("build", event.source.source_id, event.source.external_id),
                source_kind=event.source.kind,
                external_id=event.source.external_id,
                url=event.source.url,
                repository_id=repository_id,
                repository=repository,
                name=event.name,
                status=event.status,
                sha=event.sha,
                branch=event.branch,
                started_at=event.started_at,
                finished_at=event.finished_at,
                duration_seconds=event.duration_seconds,
                triggered_by=_person(attributed, "triggered_by", event.triggered_by),
            ),
        )
        if repository_id is not None:
            batch.gated.add((workspace, repository_id))
    elif isinstance(event, DeploymentStatusChanged):
        repository_id, repository = _repository(event.repository)
        await projection.record_deployment(
            session,
            tenant,
            workspace,
            projection.DeploymentRecord(
                id=record_id("deployment", event.source.source_id, event.source.external_id),
                source_kind=event.source.kind,
                external_id=event.source.external_id,
                url=event.source.url,
                repository_id=repository_id,
                repository=repository,
                environment=event.environment,
                is_production=event.is_production,
                sha=event.sha,
                status=event.status,
                status_at=event.occurred_at,
                started_at=event.started_at,
                finished_at=event.finished_at,
                deployed_by=_person(attributed, "deployed_by", event.deployed_by),
            ),
        )
        if repository_id is not None:
            batch.repository(workspace, repository_id).linked = True
    elif isinstance(
        event, WorkItemCreated | WorkItemTransitioned | WorkItemAssigned | WorkItemResolved
    ):
        item = event.work_item
        category = (
            event.to_category
            if isinstance(event, WorkItemTransitioned)
            else "done"
            if isinstance(event, WorkItemResolved)
            else item.status_category
        )
        assignee = _person(attributed, ASSIGNEE_PATH, item.assignee).developer_id
        await projection.record_work_item(
            session,
            tenant,
            workspace,
            projection.WorkItemMove(
                id=record_id("work_item", item.source.source_id, item.key),
                key=item.key,
                assignee_developer_id=assignee,
                category=category,
                at=event.occurred_at,
            ),
        )
    elif isinstance(event, WorkItemDeleted):
        await projection.delete_work_item(
            session,
            tenant,
            workspace,
            record_id("work_item", event.source.source_id, event.key),
            event.key,
            event.occurred_at,
        )
    elif isinstance(event, IncidentOpened | IncidentResolved):
        await projection.record_incident(
            session,
            tenant,
            workspace,
            projection.IncidentRecord(
                id=record_id("incident", event.source.source_id, event.source.external_id),
                source_kind=event.source.kind,
                external_id=event.source.external_id,
                url=event.source.url,
                title=event.title,
                severity=event.severity,
                service=event.service,
                deployment_sha=event.deployment_sha if isinstance(event, IncidentOpened) else None,
                opened_at=event.opened_at,
                resolved_at=None if isinstance(event, IncidentOpened) else event.resolved_at,
                at=event.opened_at if isinstance(event, IncidentOpened) else event.resolved_at,
            ),
        )
        if event.service:
            batch.incidents.add((workspace, event.service))


async def on_identity(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Keep the local developer map — who is a bot, who was merged into whom — and give
    each developer back exactly their own history: a merge sums the days of the developers
    merged, a split or a moved alias hands the records made under the aliases it names to
    their new developer (records keep their alias, see the README); and follow teams,
    memberships and user links (they read as their developer does now: nothing to move)."""
    await developer_days.lock_tenant_days(session, envelopes[0].tenantid, exclusive=True)
    for envelope in each_in_context(envelopes):
        tenant = envelope.tenantid
        event = data_model_for(envelope.type).model_validate(envelope.data)
        if isinstance(event, DeveloperCreated):
            await projection.remember_developer(session, tenant, event.developer_id, event.is_bot)
        elif isinstance(event, DevelopersMerged):
            await projection.merge_developers(session, tenant, event.survivor_id, event.merged_ids)
            await queue_people(session, tenant, {event.survivor_id, *event.merged_ids})
        elif isinstance(event, DeveloperSplit):
            await developer_days.restore_developer(session, tenant, event.new_developer_id)
            await _hand_over(
                session, tenant, event.alias_ids, event.from_developer_id, event.new_developer_id
            )
        elif isinstance(event, AliasMoved):
            await _hand_over(
                session, tenant, [event.alias_id], event.from_developer_id, event.to_developer_id
            )
        else:
            await _follow_team(session, tenant, envelope, event)


async def _follow_team(
    session: AsyncSession, tenant: UUID, envelope: Envelope, event: object
) -> None:
    """Teams, memberships and user links as identity announces them (db/teams.py)."""
    if isinstance(event, TeamCreated):
        await teams.remember_team(session, tenant, event.team_id, event.name)
    elif isinstance(event, TeamDeleted):
        await teams.delete_team(session, tenant, event.team_id, envelope.time)
    elif isinstance(event, TeamMembershipChanged):
        await teams.record_membership(
            session,
            tenant,
            event.membership_id,
            event.team_id,
            event.developer_id,
            event.starts_on,
            event.ends_on,
            event.removed,
        )
    elif isinstance(event, DeveloperUserLinked):
        await teams.link_user(
            session, tenant, event.developer_id, event.user_id, event.previous_user_id
        )


async def _hand_over(
    session: AsyncSession, tenant: UUID, aliases: list[UUID], source: UUID, target: UUID
) -> None:
    """The records made under ``aliases`` go from ``source`` to ``target``; both get their
    days recomputed."""
    current = await developer_days.current_ids(session, tenant, {source, target})
    await developer_days.reattribute_aliases(session, tenant, aliases, target)
    await queue_people(session, tenant, {current[source], current[target]})


async def queue_people(session: AsyncSession, tenant: UUID, people: set[UUID]) -> None:
    """Queue every day any of ``people`` (current ids) has a row or a key waiting, for each
    of them: what an identity change moved between them."""
    days = await day_queue.days_of(session, tenant, people)
    await day_queue.note(session, tenant, {(p, day) for p in people for day in days})


async def on_forecast(session: AsyncSession, envelope: Envelope) -> None:
    """Keep the forecast service's stale flags for the team-health detectors (a flag
    dismissed is forgotten); forecasts themselves are not used."""
    if envelope.workspaceid is None:
        return
    if envelope.type == type_of(WorkItemFlaggedStale):
        flagged = WorkItemFlaggedStale.model_validate(envelope.data)
        await health_db.flag_stale(
            session, envelope.tenantid, envelope.workspaceid, flagged.work_item_key, envelope.time
        )
    elif envelope.type == type_of(StaleFlagDismissed):
        dismissed = StaleFlagDismissed.model_validate(envelope.data)
        await health_db.clear_stale(
            session, envelope.tenantid, envelope.workspaceid, dismissed.work_item_key
        )


HANDLERS: dict[str, Handler] = {
    ACTIVITY_ATTRIBUTED.name: Batched(on_attributed_activity),
    FORECAST.name: on_forecast,
    IDENTITY.name: Batched(on_identity),
}

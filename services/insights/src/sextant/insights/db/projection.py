"""Writes of the activity projections; callers own the transaction.

Every write is idempotent: a record is upserted under its tool id, a push and a review are
inserted once, and a fact that moves with time (a deployment's status, a change request's
title) is only replaced by one that happened later. Derived columns (first commit, first
review, the deployment that shipped a change) are recomputed from the rows, never
accumulated, so applying an event twice or out of order leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid5
from sextant.insights.db import (
    builds,
    change_requests,
    commits,
    deployment_changes,
    deployments,
    developers,
    incidents,
    pushes,
    reviews,
    work_items,
)
from sextant.insights.domain import linkage
from sextant.runtime.db import driver_connection

RECORDS = UUID("9d3f6a2e-4c1b-5e7a-8f90-1a2b3c4d5e6f")  # namespace of projected record ids


def record_id(kind: str, source_id: UUID, external_id: str) -> UUID:
    """The id a record of ``kind`` keeps whatever event (or redelivery) brings it."""
    return uuid5(RECORDS, f"{kind}/{source_id}/{external_id}")


@dataclass(frozen=True)
class Person:
    """Who did something, as the attributed event resolved them."""

    developer_id: UUID | None
    is_bot: bool
    alias_id: UUID | None = None  # identity's alias, when the event named it


# change requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeSnapshot:
    id: UUID
    source_kind: str
    external_id: str
    url: str | None
    repository_id: str
    repository: str
    number: int
    title: str
    author: Person
    base_branch: str
    head_branch: str
    into_default_branch: bool | None
    draft: bool
    labels: list[str]
    opened_at: datetime


@dataclass
class ChangeRequestWrites:
    """A batch's writes of one workspace's change requests, folded as applying them one
    by one in order would leave the rows, and written at once (:func:`record_changes`):
    per change request the newest snapshot (of equals, the later), the last merge and
    close, and every review."""

    snapshots: dict[UUID, tuple[ChangeSnapshot, datetime]] = field(default_factory=dict)
    merges: dict[UUID, tuple[str, list[str], str | None, datetime]] = field(default_factory=dict)
    closes: dict[UUID, datetime] = field(default_factory=dict)
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self, change: ChangeSnapshot, at: datetime) -> None:
        """Refresh what it says if ``at`` is not older than what it said."""
        held = self.snapshots.get(change.id)
        if held is None or held[1] <= at:
            self.snapshots[change.id] = (change, at)

    def merge(
        self,
        change_id: UUID,
        merge_sha: str,
        commit_shas: Sequence[str],
        commits_source: str | None,
        merged_at: datetime,
    ) -> None:
        """The last merge event wins: a revision (ingest's commit list) replaces it."""
        self.merges[change_id] = (merge_sha, list(commit_shas), commits_source, merged_at)

    def close(self, change_id: UUID, closed_at: datetime) -> None:
        self.closes[change_id] = closed_at

    def review(
        self,
        change_id: UUID,
        review_id: str,
        reviewer: Person,
        state: str,
        submitted_at: datetime,
    ) -> None:
        self.reviews.append(
            {
                "change_request_id": change_id,
                "review_id": review_id,
                "reviewer_developer_id": reviewer.developer_id,
                "reviewer_is_bot": reviewer.is_bot,
                "reviewer_alias_id": reviewer.alias_id,
                "state": state,
                "submitted_at": submitted_at,
            }
        )


async def record_changes(
    session: AsyncSession, tenant: UUID, workspace: UUID, writes: ChangeRequestWrites
) -> set[UUID]:
    """Create the change requests or refresh what they say (a snapshot older than the
    stored one changes nothing), then their merges, closes and reviews (each review once):
    at most four statements whatever the batch's size. Returns the ids created."""
    t = change_requests
    created: set[UUID] = set()
    if writes.snapshots:
        rows = [
            {
                "tenant_id": tenant,
                "id": change.id,
                "workspace_id": workspace,
                "source_kind": change.source_kind,
                "external_id": change.external_id,
                "url": change.url,
                "repository_id": change.repository_id,
                "repository": change.repository,
                "number": change.number,
                "title": change.title,
                "author_developer_id": change.author.developer_id,
                "author_is_bot": change.author.is_bot,
                "author_alias_id": change.author.alias_id,
                "base_branch": change.base_branch,
                "head_branch": change.head_branch,
                "into_default_branch": change.into_default_branch,
                "draft": change.draft,
                "labels": change.labels,
                "opened_at": change.opened_at,
                "snapshot_at": at,
            }
            # in key order: batches no longer serialised by derivation locks take the rows'
            # locks in one order (no deadlock between two writing the same rows)
            for _, (change, at) in sorted(writes.snapshots.items())
        ]
        statement = insert(t)
        refreshed = (
            "url",
            "repository",
            "title",
            "author_developer_id",
            "author_is_bot",
            "author_alias_id",
            "base_branch",
            "head_branch",
            "into_default_branch",
            "draft",
            "labels",
            "snapshot_at",
        )
        # xmax is 0 on a row this statement inserted, not on one it updated.
        written = await session.execute(
            statement.on_conflict_do_update(
                index_elements=[t.c.tenant_id, t.c.id],
                set_={name: statement.excluded[name] for name in refreshed},
                where=t.c.snapshot_at <= statement.excluded.snapshot_at,
            ).returning(t.c.id, sa.literal_column("xmax").cast(sa.Text) == "0"),
            rows,
        )
        created = {row[0] for row in written if row[1]}
    if writes.merges:
        merged = sa.values(
            sa.column("id", sa.Uuid),
            sa.column("merge_sha", sa.Text),
            sa.column("commit_shas", ARRAY(sa.Text)),
            sa.column("commits_source", sa.Text),
            sa.column("merged_at", sa.DateTime(timezone=True)),
            name="merged",
        ).data([(i, *m) for i, m in writes.merges.items()])
        await session.execute(
            sa.update(t)
            .where(t.c.tenant_id == tenant, t.c.id == merged.c.id)
            .values(
                merged_at=merged.c.merged_at,
                merge_sha=merged.c.merge_sha,
                commit_shas=merged.c.commit_shas,
                commits_source=merged.c.commits_source,
            )
        )
    if writes.closes:
        closed = sa.values(
            sa.column("id", sa.Uuid),
            sa.column("closed_at", sa.DateTime(timezone=True)),
            name="closed",
        ).data(list(writes.closes.items()))
        await session.execute(
            sa.update(t)
            .where(t.c.tenant_id == tenant, t.c.id == closed.c.id)
            .values(closed_at=closed.c.closed_at)
        )
    if writes.reviews:
        await session.execute(
            insert(reviews).on_conflict_do_nothing(),
            [{"tenant_id": tenant, "workspace_id": workspace, **r} for r in writes.reviews],
        )
    return created


# pushes and commits --------------------------------------------------------------------


@dataclass(frozen=True)
class PushedCommit:
    sha: str
    title: str
    author: Person
    authored_at: datetime
    committed_at: datetime | None


@dataclass(frozen=True)
class PushRecord:
    event_id: UUID
    repository_id: str
    branch: str
    into_default_branch: bool | None
    before_sha: str | None
    after_sha: str
    forced: bool
    pusher: Person
    commits: list[PushedCommit]
    pushed_at: datetime

    @property
    def shas(self) -> list[str]:
        return [c.sha for c in self.commits]


async def record_pushes(
    session: AsyncSession, tenant: UUID, workspace: UUID, batch: Sequence[PushRecord]
) -> dict[str, set[str]]:
    """A batch's pushes of ``workspace`` (each once per event) and each commit as first
    pushed, in three statements whatever the batch's size. Returns, per repository, the
    branches its commits were filed under before (a push that came earlier than the one
    that named them): the change requests of those branches lose them."""
    if not batch:
        return {}
    await session.execute(
        insert(pushes).on_conflict_do_nothing(),
        [
            {
                "tenant_id": tenant,
                "event_id": push.event_id,
                "workspace_id": workspace,
                "repository_id": push.repository_id,
                "branch": push.branch,
                "into_default_branch": push.into_default_branch,
                "before_sha": push.before_sha,
                "after_sha": push.after_sha,
                "forced": push.forced,
                "commit_shas": push.shas,
                "pusher_developer_id": push.pusher.developer_id,
                "pusher_is_bot": push.pusher.is_bot,
                "pushed_at": push.pushed_at,
            }
            for push in batch
        ],
    )
    # Each commit as the batch's earliest push of it shows it (the first of equals, as
    # when they arrive one by one): the row a stored one is compared with.
    first: dict[tuple[str, str], tuple[PushRecord, PushedCommit]] = {}
    for push in batch:
        for c in push.commits:
            held = first.get((push.repository_id, c.sha))
            if held is None or push.pushed_at < held[0].pushed_at or held[0] is push:
                first[push.repository_id, c.sha] = (push, c)
    if not first:
        return {}
    t = commits
    # by the driver and arrays: the same join written with sa.values() was compiled anew
    # for every batch, the batches' largest cost in Python (bench_rebuild)
    driver = await driver_connection(session)
    moved_from: dict[str, set[str]] = {}
    for row in await driver.fetch(
        "SELECT DISTINCT t.repository_id, t.branch FROM insights.commits t"
        " JOIN unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[])"
        " AS c(repository_id, sha, branch, pushed_at)"
        " ON t.repository_id = c.repository_id AND t.sha = c.sha"
        " WHERE t.tenant_id = $1 AND t.workspace_id = $2"
        " AND t.branch <> c.branch AND t.pushed_at > c.pushed_at",
        tenant,
        workspace,
        [r for r, _ in first],
        [sha for _, sha in first],
        [p.branch for p, _ in first.values()],
        [p.pushed_at for p, _ in first.values()],
    ):
        moved_from.setdefault(row["repository_id"], set()).add(row["branch"])
    rows = [
        {
            "tenant_id": tenant,
            "workspace_id": workspace,
            "repository_id": push.repository_id,
            "sha": c.sha,
            "title": c.title,
            "author_developer_id": c.author.developer_id,
            "author_is_bot": c.author.is_bot,
            "author_alias_id": c.author.alias_id,
            "authored_at": c.authored_at,
            "committed_at": c.committed_at,
            "branch": push.branch,
            "pushed_at": push.pushed_at,
        }
        for _, (push, c) in sorted(first.items())  # in key order, as the change requests
    ]
    statement = insert(t)
    # The first push of a commit names its branch, whichever push arrives first.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.workspace_id, t.c.repository_id, t.c.sha],
            set_={"branch": statement.excluded.branch, "pushed_at": statement.excluded.pushed_at},
            where=t.c.pushed_at > statement.excluded.pushed_at,
        ),
        rows,
    )
    return moved_from


# builds, deployments, incidents ----------------------------------------------------------


@dataclass(frozen=True)
class BuildRecord:
    id: UUID
    source_kind: str
    external_id: str
    url: str | None
    repository_id: str | None
    repository: str | None
    name: str
    status: str
    sha: str | None
    branch: str | None
    started_at: datetime | None
    finished_at: datetime
    duration_seconds: float | None
    triggered_by: Person


async def record_build(
    session: AsyncSession, tenant: UUID, workspace: UUID, build: BuildRecord
) -> None:
    """A finished build; a rerun under the same id replaces it if it finished later."""
    t = builds
    values = {
        "tenant_id": tenant,
        "id": build.id,
        "workspace_id": workspace,
        "source_kind": build.source_kind,
        "external_id": build.external_id,
        "url": build.url,
        "repository_id": build.repository_id,
        "repository": build.repository,
        "name": build.name,
        "status": build.status,
        "sha": build.sha,
        "branch": build.branch,
        "started_at": build.started_at,
        "finished_at": build.finished_at,
        "duration_seconds": build.duration_seconds,
        "triggered_by_developer_id": build.triggered_by.developer_id,
        "triggered_by_is_bot": build.triggered_by.is_bot,
    }
    statement = insert(t).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.id],
            set_={k: statement.excluded[k] for k in values if k not in ("tenant_id", "id")},
            where=t.c.finished_at < statement.excluded.finished_at,
        )
    )


@dataclass(frozen=True)
class DeploymentRecord:
    id: UUID
    source_kind: str
    external_id: str
    url: str | None
    repository_id: str | None
    repository: str | None
    environment: str
    is_production: bool
    sha: str
    status: str
    status_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deployed_by: Person


async def record_deployment(
    session: AsyncSession, tenant: UUID, workspace: UUID, deployment: DeploymentRecord
) -> None:
    """A deployment's status as of ``status_at``; an older status arriving late is kept
    out. It succeeded when the tool said so (at its finish time, else the event's)."""
    t = deployments
    succeeded_at = (
        (deployment.finished_at or deployment.status_at) if deployment.status == "success" else None
    )
    values = {
        "tenant_id": tenant,
        "id": deployment.id,
        "workspace_id": workspace,
        "source_kind": deployment.source_kind,
        "external_id": deployment.external_id,
        "url": deployment.url,
        "repository_id": deployment.repository_id,
        "repository": deployment.repository,
        "environment": deployment.environment,
        "is_production": deployment.is_production,
        "sha": deployment.sha,
        "status": deployment.status,
        "status_at": deployment.status_at,
        "started_at": deployment.started_at,
        "finished_at": deployment.finished_at,
        "succeeded_at": succeeded_at,
        "deployed_by_developer_id": deployment.deployed_by.developer_id,
        "deployed_by_is_bot": deployment.deployed_by.is_bot,
    }
    statement = insert(t).values(**values)
    replaced = [k for k in values if k not in ("tenant_id", "id", "started_at")]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.id],
            set_={
                **{k: statement.excluded[k] for k in replaced},
                "started_at": sa.func.coalesce(statement.excluded.started_at, t.c.started_at),
            },
            where=t.c.status_at <= statement.excluded.status_at,
        )
    )


@dataclass(frozen=True)
class IncidentRecord:
    id: UUID
    source_kind: str
    external_id: str
    url: str | None
    title: str
    severity: str | None
    service: str | None
    deployment_sha: str | None
    opened_at: datetime
    resolved_at: datetime | None
    at: datetime


async def record_incident(
    session: AsyncSession, tenant: UUID, workspace: UUID, incident: IncidentRecord
) -> None:
    """An incident opened or resolved; the blamed SHA and the resolution are kept once
    known, the title and severity follow the latest event."""
    t = incidents
    statement = insert(t).values(
        tenant_id=tenant,
        id=incident.id,
        workspace_id=workspace,
        source_kind=incident.source_kind,
        external_id=incident.external_id,
        url=incident.url,
        title=incident.title,
        severity=incident.severity,
        service=incident.service,
        deployment_sha=incident.deployment_sha,
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at,
        snapshot_at=incident.at,
    )
    newer = t.c.snapshot_at <= statement.excluded.snapshot_at
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.id],
            set_={
                "url": sa.func.coalesce(excluded.url, t.c.url),
                "title": sa.case((newer, excluded.title), else_=t.c.title),
                "severity": sa.case((newer, excluded.severity), else_=t.c.severity),
                "service": sa.func.coalesce(t.c.service, excluded.service),
                "deployment_sha": sa.func.coalesce(t.c.deployment_sha, excluded.deployment_sha),
                "opened_at": sa.func.least(t.c.opened_at, excluded.opened_at),
                "resolved_at": sa.func.coalesce(excluded.resolved_at, t.c.resolved_at),
                "snapshot_at": sa.func.greatest(t.c.snapshot_at, excluded.snapshot_at),
            },
        )
    )


# work items ---------------------------------------------------------------------------

CATEGORY_RANK = {"todo": 0, "in_progress": 1, "done": 2}
"""Two moves at one instant: the later in the workflow wins, whichever arrives first."""


@dataclass(frozen=True)
class WorkItemMove:
    """A work item seen in ``category`` at ``at`` (its creation, a transition, a resolution
    or any later snapshot)."""

    id: UUID
    key: str
    assignee_developer_id: UUID | None
    category: str
    at: datetime


async def record_work_item(
    session: AsyncSession, tenant: UUID, workspace: UUID, move: WorkItemMove
) -> None:
    """Keep the first move into progress and the latest category (done_at while it is
    done); a late, older move changes neither, so the order of arrival does not matter."""
    t = work_items
    statement = insert(t).values(
        tenant_id=tenant,
        id=move.id,
        workspace_id=workspace,
        key=move.key,
        assignee_developer_id=move.assignee_developer_id,
        category=move.category,
        category_at=move.at,
        started_at=move.at if move.category == "in_progress" else None,
        done_at=move.at if move.category == "done" else None,
    )
    excluded = statement.excluded

    def rank(category: Any) -> Any:
        return sa.case(CATEGORY_RANK, value=category, else_=-1)

    newer = sa.or_(
        excluded.category_at > t.c.category_at,
        sa.and_(
            excluded.category_at == t.c.category_at, rank(excluded.category) > rank(t.c.category)
        ),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.id],
            set_={
                "key": excluded.key,
                "assignee_developer_id": sa.case(
                    (newer, excluded.assignee_developer_id), else_=t.c.assignee_developer_id
                ),
                "category": sa.case((newer, excluded.category), else_=t.c.category),
                "done_at": sa.case((newer, excluded.done_at), else_=t.c.done_at),
                "category_at": sa.func.greatest(t.c.category_at, excluded.category_at),
                "started_at": sa.func.least(t.c.started_at, excluded.started_at),
            },
        )
    )


async def delete_work_item(
    session: AsyncSession, tenant: UUID, workspace: UUID, id: UUID, key: str, at: datetime
) -> None:
    """The item was deleted in its tool: the metrics leave it out from now on."""
    statement = insert(work_items).values(
        tenant_id=tenant,
        id=id,
        workspace_id=workspace,
        key=key,
        category="todo",
        category_at=at,
        deleted_at=at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[work_items.c.tenant_id, work_items.c.id],
            set_={
                "deleted_at": sa.func.coalesce(
                    work_items.c.deleted_at, statement.excluded.deleted_at
                )
            },
        )
    )


# derived columns --------------------------------------------------------------------------


@dataclass
class Touch:
    """What a batch wrote of one repository: the change requests its events named, and
    the branches and commits its pushes named (with the branches a commit moved from).
    The derivations are redone for what these can move, not for the whole repository."""

    changes: set[UUID] = field(default_factory=set)
    branches: set[str] = field(default_factory=set)
    shas: set[str] = field(default_factory=set)
    linked: bool = False  # a merge, a push or a deployment: what shipped may have moved

    def pushed(self, branches: Iterable[str], shas: Iterable[str]) -> None:
        self.branches.update(branches)
        self.shas.update(shas)
        self.linked = True


def may_hold(branches: Iterable[str], shas: Iterable[str]) -> Any:
    """The change requests pushed commits may belong to: of their head branch, or listed
    by their merge (the rule of the first commit, loosened to either)."""
    cr = change_requests
    return sa.or_(
        cr.c.head_branch == sa.any_(sa.cast(list(branches), ARRAY(sa.Text))),
        cr.c.commit_shas.overlap(sa.cast(list(shas), ARRAY(sa.Text))),
    )


async def refresh_change_times(
    session: AsyncSession, tenant: UUID, touched: Mapping[tuple[UUID, str], Touch]
) -> None:
    """First commit and first review of the change requests the touches can move, from
    the rows, in one statement over every (workspace, repository) touched: those their
    events named, and those their pushed commits may belong to. Only rows whose value
    moves are written (and locked).

    The first commit is the earliest authored of the commits the merge listed; before a
    merge (or when the tool listed none), of those first pushed to its head branch. The
    first review is the earliest by someone other than the author and not a bot."""
    cr, c, r = change_requests, commits, reviews
    wanted = []
    for (workspace, repository_id), touch in sorted(touched.items()):
        moved = [cr.c.id.in_(sorted(touch.changes))] if touch.changes else []
        if touch.branches or touch.shas:
            moved.append(may_hold(touch.branches, touch.shas))
        if moved:
            wanted.append(
                sa.and_(
                    cr.c.workspace_id == workspace,
                    cr.c.repository_id == repository_id,
                    sa.or_(*moved),
                )
            )
    if not wanted:
        return
    same_repository = sa.and_(
        c.c.tenant_id == cr.c.tenant_id,
        c.c.workspace_id == cr.c.workspace_id,
        c.c.repository_id == cr.c.repository_id,
    )
    first_commit = (
        sa.select(sa.func.min(c.c.authored_at))
        .where(
            same_repository,
            sa.case(
                (sa.func.cardinality(cr.c.commit_shas) > 0, c.c.sha == sa.any_(cr.c.commit_shas)),
                else_=c.c.branch == cr.c.head_branch,
            ),
        )
        .scalar_subquery()
    )
    first_review = (
        sa.select(sa.func.min(r.c.submitted_at))
        .where(
            r.c.tenant_id == cr.c.tenant_id,
            r.c.change_request_id == cr.c.id,
            sa.not_(r.c.reviewer_is_bot),
            r.c.reviewer_developer_id.is_distinct_from(cr.c.author_developer_id),
        )
        .scalar_subquery()
    )
    computed = (
        sa.select(
            cr.c.id,
            first_commit.label("first_commit_at"),
            first_review.label("first_review_at"),
        )
        .where(cr.c.tenant_id == tenant, sa.or_(*wanted))
        .subquery()
    )
    await session.execute(
        sa.update(cr)
        .where(
            cr.c.tenant_id == tenant,
            cr.c.id == computed.c.id,
            sa.or_(
                cr.c.first_commit_at.is_distinct_from(computed.c.first_commit_at),
                cr.c.first_review_at.is_distinct_from(computed.c.first_review_at),
            ),
        )
        .values(
            first_commit_at=computed.c.first_commit_at,
            first_review_at=computed.c.first_review_at,
        )
    )


async def relink_repository(
    session: AsyncSession, tenant: UUID, workspace: UUID, repository_id: str
) -> None:
    """Recompute what each successful deployment of the repository shipped
    (:func:`linkage.link_deployments`) and, per change request, its production one.

    A repository no deployment has succeeded in, and that has nothing recorded as shipped,
    ships nothing: its pushes are not read. Otherwise only the rows whose linkage moved
    are written, and only the change requests they name get their deployment again."""
    d, cr, p, dc = deployments, change_requests, pushes, deployment_changes
    in_repository = (d.c.tenant_id == tenant, d.c.workspace_id == workspace)
    of_shipped = (
        dc.c.tenant_id == tenant,
        dc.c.workspace_id == workspace,
        dc.c.repository_id == repository_id,
    )
    deployed = [
        linkage.Deployment(row.id, row.environment, row.sha, row.succeeded_at)
        for row in await session.execute(
            sa.select(d.c.id, d.c.environment, d.c.sha, d.c.succeeded_at).where(
                *in_repository, d.c.repository_id == repository_id, d.c.succeeded_at.is_not(None)
            )
        )
    ]
    before = {
        (row.deployment_id, row.change_request_id): row.counted
        for row in await session.execute(
            sa.select(dc.c.deployment_id, dc.c.change_request_id, dc.c.counted).where(*of_shipped)
        )
    }
    if not deployed and not before:
        return
    changes = [
        linkage.Change(row.id, row.merge_sha, row.commit_shas)
        for row in await session.execute(
            sa.select(cr.c.id, cr.c.merge_sha, cr.c.commit_shas).where(
                cr.c.tenant_id == tenant,
                cr.c.workspace_id == workspace,
                cr.c.repository_id == repository_id,
                cr.c.merge_sha.is_not(None),
            )
        )
    ]
    pushed = [
        linkage.Push(row.before_sha, row.commit_shas, row.forced)
        for row in await session.execute(
            sa.select(p.c.before_sha, p.c.commit_shas, p.c.forced).where(
                p.c.tenant_id == tenant,
                p.c.workspace_id == workspace,
                p.c.repository_id == repository_id,
            )
        )
    ]
    after = {
        (s.deployment_id, s.change_id): s.counted
        for s in linkage.link_deployments(deployed, changes, pushed)
    }
    gone = [key for key, counted in before.items() if after.get(key) != counted]
    added = [key for key, counted in after.items() if before.get(key) != counted]
    if gone:
        await session.execute(
            sa.delete(dc).where(
                *of_shipped,
                sa.tuple_(dc.c.deployment_id, dc.c.change_request_id).in_(gone),
            )
        )
    if added:
        await session.execute(
            insert(dc).values(
                [
                    {
                        "tenant_id": tenant,
                        "deployment_id": deployment_id,
                        "change_request_id": change_id,
                        "workspace_id": workspace,
                        "repository_id": repository_id,
                        "counted": after[deployment_id, change_id],
                    }
                    for deployment_id, change_id in added
                ]
            )
        )

    # Each change's production deployment: the first successful one that counted it. A
    # deployment's status may have moved without its rows moving, so every change shipped
    # before or now is looked at, and written only where it differs.
    def first_production(column: Any) -> Any:
        return (
            sa.select(column)
            .select_from(
                dc.join(d, sa.and_(d.c.tenant_id == dc.c.tenant_id, d.c.id == dc.c.deployment_id))
            )
            .where(
                dc.c.tenant_id == cr.c.tenant_id,
                dc.c.change_request_id == cr.c.id,
                dc.c.counted,
                d.c.is_production,
            )
            .order_by(d.c.succeeded_at, d.c.id)
            .limit(1)
            .scalar_subquery()
        )

    named = sorted({change_id for _, change_id in [*before, *after]})
    if not named:
        return
    first_id, first_at = first_production(d.c.id), first_production(d.c.succeeded_at)
    await session.execute(
        sa.update(cr)
        .where(
            cr.c.tenant_id == tenant,
            cr.c.id.in_(named),
            sa.or_(
                cr.c.deployment_id.is_distinct_from(first_id),
                cr.c.deployed_at.is_distinct_from(first_at),
            ),
        )
        .values(deployment_id=first_id, deployed_at=first_at)
    )


# the local developer map -------------------------------------------------------------------


async def remember_developer(
    session: AsyncSession, tenant: UUID, developer_id: UUID, is_bot: bool
) -> None:
    statement = insert(developers).values(
        tenant_id=tenant, developer_id=developer_id, current_id=developer_id, is_bot=is_bot
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[developers.c.tenant_id, developers.c.developer_id],
            set_={"is_bot": statement.excluded.is_bot},
        )
    )


async def merge_developers(
    session: AsyncSession, tenant: UUID, survivor: UUID, merged: Sequence[UUID]
) -> None:
    """``merged`` (and whatever was merged into them before) now read as ``survivor``."""
    t = developers
    statement = insert(t).values(
        [
            {"tenant_id": tenant, "developer_id": d, "current_id": survivor}
            for d in dict.fromkeys([survivor, *merged])
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.developer_id],
            set_={"current_id": statement.excluded.current_id},
            where=t.c.developer_id != survivor,
        )
    )
    await session.execute(
        sa.update(t)
        .where(t.c.tenant_id == tenant, t.c.current_id.in_(list(merged)))
        .values(current_id=survivor)
    )

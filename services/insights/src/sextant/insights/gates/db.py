"""The gates' tables (schema ``insights``, tenant-scoped with forced RLS) and the reads of
the facts a gate is evaluated on. Rows never leave this module: callers get plain values.

- ``gate_policies``: every version of every scope's policy (a PUT adds one, nothing is
  rewritten), so an evaluation's ``policy_version`` always names the rules it applied.
- ``gate_evaluations``: every distinct answer, once — unique on (scope, policy version,
  repository, SHA, environment, digest of the rule results): the same question with the
  same facts returns the stored answer; new facts (a review since) make a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, distinct_on
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import (
    builds,
    change_requests,
    commits,
    deployments,
    developers,
    incidents,
    metadata,
    pushes,
    reviews,
)
from sextant.insights.domain import dora
from sextant.insights.gates import rules

gate_policies = sa.Table(
    "gate_policies",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("policy", JSONB, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

gate_evaluations = sa.Table(
    "gate_evaluations",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("repository", sa.Text, nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("change_request_id", sa.Uuid),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("rules", JSONB, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("overridden_by", sa.Text),
    sa.Column("override_reason", sa.Text),
    sa.Column("overridden_at", sa.DateTime(timezone=True)),
)

# What a gate looks a SHA up by (the projections' own indexes are by repository id).
sa.Index("change_requests_merge_sha", change_requests.c.tenant_id, change_requests.c.merge_sha)
sa.Index("change_requests_commit_shas", change_requests.c.commit_shas, postgresql_using="gin")
sa.Index("pushes_after_sha", pushes.c.tenant_id, pushes.c.workspace_id, pushes.c.after_sha)
sa.Index("builds_sha", builds.c.tenant_id, builds.c.workspace_id, builds.c.sha)
sa.Index("deployments_sha", deployments.c.tenant_id, deployments.c.workspace_id, deployments.c.sha)

sa.Index(
    "gate_evaluations_question",
    gate_evaluations.c.tenant_id,
    gate_evaluations.c.scope,
    gate_evaluations.c.sha,
    gate_evaluations.c.environment,
    gate_evaluations.c.evaluated_at,
)
sa.Index(
    "gate_evaluations_repository",
    gate_evaluations.c.tenant_id,
    gate_evaluations.c.workspace_id,
    gate_evaluations.c.repository,
    gate_evaluations.c.evaluated_at,
)

# policies ------------------------------------------------------------------------------


async def latest_policy(
    session: AsyncSession, tenant: UUID, scope: str, version: int | None = None
) -> sa.Row[Any] | None:
    """The scope's newest policy (or the given version); None when none was set."""
    p = gate_policies
    query = sa.select(p).where(p.c.tenant_id == tenant, p.c.scope == scope)
    if version is not None:
        query = query.where(p.c.version == version)
    row = (await session.execute(query.order_by(p.c.version.desc()).limit(1))).first()
    return row


async def delete_workspace_policies(session: AsyncSession, tenant: UUID, workspace: UUID) -> int:
    """On its purge, every version of the workspace's own policy (its scope names it in
    text, not in a column a purge could be declared by); a view's stay. The rows deleted."""
    p = gate_policies
    deleted = await session.execute(
        sa.delete(p).where(p.c.tenant_id == tenant, p.c.scope == f"workspace:{workspace}")
    )
    return int(cast("CursorResult[Any]", deleted).rowcount or 0)


async def add_policy(
    session: AsyncSession,
    tenant: UUID,
    scope: str,
    policy: dict[str, Any],
    created_by: str,
    at: datetime,
) -> int:
    """Store ``policy`` as the scope's next version; two writers at once get distinct
    versions (the scope's row lock is the transaction-scoped advisory lock)."""
    p = gate_policies
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"gate:{scope}", 0)))
    )
    current = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(p.c.version), 0)).where(
            p.c.tenant_id == tenant, p.c.scope == scope
        )
    )
    version = int(current or 0) + 1
    await session.execute(
        sa.insert(p).values(
            tenant_id=tenant,
            scope=scope,
            version=version,
            policy=policy,
            created_by=created_by,
            created_at=at,
        )
    )
    return version


# the facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What is being gated: a SHA of a repository in a workspace, and its change request."""

    workspace_id: UUID
    repository: str
    sha: str
    change_request_id: UUID | None


async def repository_workspace(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], repository: str
) -> UUID | None:
    """The workspace of the scope that has seen ``repository`` (by its full name): a change
    request of it, else a deployment, else a build (one query each, the first usually hits)."""
    for table in (change_requests, deployments, builds):
        found: UUID | None = await session.scalar(
            sa.select(table.c.workspace_id)
            .where(
                table.c.tenant_id == tenant,
                table.c.workspace_id.in_(workspaces),
                table.c.repository == repository,
            )
            .limit(1)
        )
        if found is not None:
            return found
    return None


def _repository_id(tenant: UUID, workspace: UUID, repository: str) -> Any:
    c = change_requests
    return (
        sa.select(c.c.repository_id)
        .where(c.c.tenant_id == tenant, c.c.workspace_id == workspace, c.c.repository == repository)
        .limit(1)
        .scalar_subquery()
    )


async def change_request_of_sha(
    session: AsyncSession, tenant: UUID, workspace: UUID, repository: str, sha: str
) -> UUID | None:
    """The change request ``sha`` belongs to: the one merged as it, or carrying it among
    its commits, else the newest whose head branch a push moved to it (an open one)."""
    c, p = change_requests, pushes
    in_repository = (
        c.c.tenant_id == tenant,
        c.c.workspace_id == workspace,
        c.c.repository == repository,
    )
    merged: UUID | None = await session.scalar(
        sa.select(c.c.id)
        .where(
            *in_repository,
            sa.or_(c.c.merge_sha == sha, c.c.commit_shas.contains([sha])),
        )
        .order_by((c.c.merge_sha == sha).desc(), c.c.opened_at.desc(), c.c.id.desc())
        .limit(1)
    )
    if merged is not None:
        return merged
    # Two steps, not a join: the planner walked every push of the repository once per
    # change request (10,000 open ones: a minute).
    branches = list(
        await session.scalars(
            sa.select(p.c.branch)
            .distinct()
            .where(
                p.c.tenant_id == tenant,
                p.c.workspace_id == workspace,
                p.c.after_sha == sha,
                p.c.repository_id == _repository_id(tenant, workspace, repository),
            )
        )
    )
    if not branches:
        return None
    headed: UUID | None = await session.scalar(
        sa.select(c.c.id)
        .where(*in_repository, c.c.head_branch.in_(branches))
        .order_by(c.c.opened_at.desc(), c.c.id.desc())
        .limit(1)
    )
    return headed


async def sha_seen(
    session: AsyncSession, tenant: UUID, workspace: UUID, repository: str, sha: str
) -> bool:
    """Whether any fact of the repository names ``sha``: a commit pushed, a push's head, a
    build, a deployment."""
    p, b, d, k = pushes, builds, deployments, commits
    repository_id = _repository_id(tenant, workspace, repository)
    seen = sa.or_(
        sa.exists().where(
            p.c.tenant_id == tenant,
            p.c.workspace_id == workspace,
            p.c.repository_id == repository_id,
            p.c.after_sha == sha,
        ),
        sa.exists().where(
            k.c.tenant_id == tenant,
            k.c.workspace_id == workspace,
            k.c.repository_id == repository_id,
            k.c.sha == sha,
        ),
        sa.exists().where(
            b.c.tenant_id == tenant,
            b.c.workspace_id == workspace,
            b.c.repository == repository,
            b.c.sha == sha,
        ),
        sa.exists().where(
            d.c.tenant_id == tenant,
            d.c.workspace_id == workspace,
            d.c.repository == repository,
            d.c.sha == sha,
        ),
    )
    return bool(await session.scalar(sa.select(seen)))


async def change_head(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], change_id: UUID
) -> tuple[UUID, str, str | None] | None:
    """A change request's workspace, repository and the SHA it stands at: its merge SHA,
    else the last push to its head branch; None when it is not in the workspaces."""
    c, p = change_requests, pushes
    last_push = (
        sa.select(p.c.after_sha)
        .where(
            p.c.tenant_id == c.c.tenant_id,
            p.c.workspace_id == c.c.workspace_id,
            p.c.repository_id == c.c.repository_id,
            p.c.branch == c.c.head_branch,
        )
        .order_by(p.c.pushed_at.desc(), p.c.event_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            sa.select(
                c.c.workspace_id, c.c.repository, sa.func.coalesce(c.c.merge_sha, last_push)
            ).where(c.c.tenant_id == tenant, c.c.workspace_id.in_(workspaces), c.c.id == change_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _now_id(tenant_column: Any, developer_column: Any) -> Any:
    """The developer id a recorded one reads as now (a merged developer's survivor)."""
    m = developers.alias()
    return sa.func.coalesce(
        sa.select(m.c.current_id)
        .where(m.c.tenant_id == tenant_column, m.c.developer_id == developer_column)
        .scalar_subquery(),
        developer_column,
    )


async def change_facts(session: AsyncSession, tenant: UUID, change_id: UUID) -> rules.Change:
    """The change request with its reviews, people as they read now."""
    c, r = change_requests, reviews
    row = (
        await session.execute(
            sa.select(
                c.c.id,
                _now_id(c.c.tenant_id, c.c.author_developer_id).label("author"),
                c.c.title,
                c.c.head_branch,
            ).where(c.c.tenant_id == tenant, c.c.id == change_id)
        )
    ).one()
    found = await session.execute(
        sa.select(
            r.c.review_id,
            _now_id(r.c.tenant_id, r.c.reviewer_developer_id).label("reviewer"),
            r.c.reviewer_is_bot,
            r.c.state,
            r.c.submitted_at,
        ).where(r.c.tenant_id == tenant, r.c.change_request_id == change_id)
    )
    return rules.Change(
        id=row.id,
        author=row.author,
        title=row.title,
        head_branch=row.head_branch,
        reviews=tuple(
            rules.Review(v.review_id, v.reviewer, v.reviewer_is_bot, v.state, v.submitted_at)
            for v in found
        ),
    )


async def builds_of(
    session: AsyncSession, tenant: UUID, workspace: UUID, repository: str, sha: str
) -> list[rules.Build]:
    b = builds
    found = await session.execute(
        sa.select(b.c.id, b.c.name, b.c.status, b.c.finished_at).where(
            b.c.tenant_id == tenant,
            b.c.workspace_id == workspace,
            b.c.repository == repository,
            b.c.sha == sha,
        )
    )
    return [rules.Build(r.id, r.name, r.status, r.finished_at) for r in found]


def _blamed_repository() -> Any:
    d, i = deployments, incidents
    return (
        sa.select(d.c.repository)
        .where(
            d.c.tenant_id == i.c.tenant_id,
            d.c.workspace_id == i.c.workspace_id,
            d.c.sha == i.c.deployment_sha,
            d.c.is_production,
        )
        .order_by(d.c.succeeded_at.desc().nulls_last(), d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


async def incidents_since(
    session: AsyncSession, tenant: UUID, workspace: UUID, since: datetime
) -> list[rules.Incident]:
    """The workspace's incidents open at or after ``since`` (opened since, or unresolved
    or resolved since), each on the service its blamed deployment's repository names,
    else its tool's service."""
    i = incidents
    found = await session.execute(
        sa.select(
            i.c.id,
            sa.func.coalesce(_blamed_repository(), i.c.service).label("service"),
            i.c.severity,
            i.c.opened_at,
            i.c.resolved_at,
        ).where(
            i.c.tenant_id == tenant,
            i.c.workspace_id == workspace,
            sa.or_(i.c.resolved_at.is_(None), i.c.resolved_at >= since, i.c.opened_at >= since),
        )
    )
    return [rules.Incident(r.id, r.service, r.severity, r.opened_at, r.resolved_at) for r in found]


async def production_deployments(
    session: AsyncSession,
    tenant: UUID,
    workspace: UUID,
    repository: str,
    since: datetime,
    until: datetime,
) -> list[dora.Deployment]:
    """The repository's successful production deployments in ``[since, until)``, keyed on
    its short name as the budget rule's service."""
    d = deployments
    found = await session.execute(
        sa.select(d.c.id, d.c.succeeded_at).where(
            d.c.tenant_id == tenant,
            d.c.workspace_id == workspace,
            d.c.repository == repository,
            d.c.is_production,
            d.c.status == "success",
            d.c.succeeded_at >= since,
            d.c.succeeded_at < until,
        )
    )
    return [dora.Deployment(r.id, repository, r.succeeded_at) for r in found]


# evaluations ---------------------------------------------------------------------------


async def store_evaluation(session: AsyncSession, values: dict[str, Any]) -> sa.Row[Any] | None:
    """Insert the evaluation unless the question's latest answer (same scope, repository,
    SHA, environment) is this one under the same policy version; the new row, or None.

    Compared with the latest answer, not with every earlier one: a fail that passed and
    then fails again the same way is a new answer, stored and announced, so the latest row
    and the check run say fail. A transaction-scoped lock on the question keeps two
    identical concurrent asks from both storing."""
    question = ":".join(
        str(values[k]) for k in ("tenant_id", "scope", "repository", "sha", "environment")
    )
    lock_key = sa.func.hashtextextended(f"gate-answer:{question}", 0)
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key)))
    latest = await latest_answer(session, values)
    if (
        latest is not None
        and latest.digest == values["digest"]
        and latest.policy_version == values["policy_version"]
    ):
        return None
    e = gate_evaluations
    row: sa.Row[Any] = (await session.execute(sa.insert(e).values(**values).returning(e))).one()
    return row


async def latest_answer(session: AsyncSession, values: dict[str, Any]) -> sa.Row[Any] | None:
    """The newest evaluation of the question ``values`` asks, if any."""
    e = gate_evaluations
    keys = ("tenant_id", "scope", "repository", "sha", "environment")
    found: sa.Row[Any] | None = (
        await session.execute(
            sa.select(e)
            .where(*(e.c[k] == values[k] for k in keys))
            .order_by(e.c.evaluated_at.desc(), e.c.id.desc())
            .limit(1)
        )
    ).first()
    return found


async def evaluation(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], evaluation_id: UUID
) -> sa.Row[Any] | None:
    e = gate_evaluations
    row: sa.Row[Any] | None = (
        await session.execute(
            sa.select(e).where(
                e.c.tenant_id == tenant, e.c.workspace_id.in_(workspaces), e.c.id == evaluation_id
            )
        )
    ).first()
    return row


async def list_evaluations(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    filters: dict[str, str | None],
    limit: int,
    after: UUID | None,
) -> list[sa.Row[Any]]:
    """A page of evaluations by id (uuid7: in the order they were made)."""
    e = gate_evaluations
    conditions = [e.c.tenant_id == tenant, e.c.workspace_id.in_(workspaces)]
    conditions += [e.c[k] == v for k, v in filters.items() if v is not None]
    if after is not None:
        conditions.append(e.c.id > after)
    found = await session.execute(sa.select(e).where(*conditions).order_by(e.c.id).limit(limit))
    return list(found)


async def record_override(
    session: AsyncSession, tenant: UUID, evaluation_id: UUID, by: str, reason: str, at: datetime
) -> sa.Row[Any] | None:
    """Flag the evaluation overridden, once: None when it already was (or is gone)."""
    e = gate_evaluations
    row: sa.Row[Any] | None = (
        await session.execute(
            sa.update(e)
            .where(e.c.tenant_id == tenant, e.c.id == evaluation_id, e.c.overridden_at.is_(None))
            .values(overridden_by=by, override_reason=reason, overridden_at=at)
            .returning(e)
        )
    ).first()
    return row


async def held_up_workspaces(
    session: AsyncSession, tenant: UUID, workspaces: Iterable[UUID], since: datetime
) -> set[UUID]:
    """Which of ``workspaces`` answered a fail or an unknown nobody overrode since
    ``since`` (a superset of those with a question :func:`awaiting` finds): one look, so a
    rebuild's rounds skip the per-repository look where no pipeline can be held up."""
    e = gate_evaluations
    wanted = sorted(set(workspaces))
    if not wanted:
        return set()
    found = await session.execute(
        sa.select(e.c.workspace_id)
        .distinct()
        .where(
            e.c.tenant_id == tenant,
            e.c.workspace_id.in_(wanted),
            e.c.evaluated_at >= since,
            e.c.verdict.in_(("fail", "unknown")),
            e.c.overridden_at.is_(None),
        )
    )
    return set(found.scalars())


async def awaiting(
    session: AsyncSession,
    tenant: UUID,
    workspace: UUID,
    repository_id: str | None,
    since: datetime,
    limit: int,
    service: str | None = None,
) -> list[sa.Row[Any]]:
    """The questions whose latest answer since ``since`` still holds a pipeline up: per
    (scope, SHA, environment) of the repository (or, given ``service``, of every repository
    that is that service, as ``rules.same_service`` reads it), the newest evaluation, if it
    is a fail or an unknown nobody overrode; the ``limit`` most recently answered (a
    pipeline asking now is likelier to be waiting than one that asked days ago)."""
    e = gate_evaluations
    if service is not None:
        short = service.rsplit("/", 1)[-1].strip().lower()
        short_name = sa.func.lower(sa.func.trim(sa.func.regexp_replace(e.c.repository, "^.*/", "")))
        which = short_name == short
    else:
        which = e.c.repository == sa.func.coalesce(
            *(
                sa.select(t.c.repository)
                .where(t.c.tenant_id == tenant, t.c.workspace_id == workspace)
                .where(t.c.repository_id == repository_id)
                .limit(1)
                .scalar_subquery()
                for t in (change_requests, builds, deployments)
            )
        )
    latest = (
        sa.select(e)
        .ext(distinct_on(e.c.scope, e.c.sha, e.c.environment))
        .where(
            e.c.tenant_id == tenant,
            e.c.workspace_id == workspace,
            which,
            e.c.evaluated_at >= since,
        )
        .order_by(e.c.scope, e.c.sha, e.c.environment, e.c.evaluated_at.desc(), e.c.id.desc())
        .subquery()
    )
    found = await session.execute(
        sa.select(latest)
        .where(latest.c.verdict.in_(("fail", "unknown")), latest.c.overridden_at.is_(None))
        .order_by(latest.c.evaluated_at.desc(), latest.c.id.desc())
        .limit(limit)
    )
    return list(found)

"""Reads of the projections for the read API; callers own the transaction.

Lists are ordered by record id (stable while a caller pages) and filtered in SQL. A
developer is shown as who they are now (a merged developer's survivor, through the local
map), and a bot is a bot if the tool or identity says so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import (
    builds,
    change_requests,
    commits,
    deployment_changes,
    deployments,
    developers,
    incidents,
    kept_changes,
    kept_deployments,
    kept_incidents,
    reviews,
    teams,
    work_items,
)
from sextant.insights.domain import dora


@dataclass(frozen=True)
class Window:
    """The filters every list shares."""

    tenant: UUID
    workspaces: Sequence[UUID]
    since: datetime | None
    until: datetime | None
    include_bots: bool
    limit: int
    after: UUID | None


def _person(developer_column: Any, bot_column: Any, name: str) -> tuple[Any, Any, Any]:
    """The developer as they are now, their bot flag, and the map's alias to join."""
    person = developers.alias(f"{name}_map")
    return (
        sa.func.coalesce(person.c.current_id, developer_column),
        sa.or_(bot_column, sa.func.coalesce(person.c.is_bot, sa.false())),
        person,
    )


def _on_map(person: Any, tenant_column: Any, developer_column: Any) -> Any:
    return sa.and_(person.c.tenant_id == tenant_column, person.c.developer_id == developer_column)


def _window(table: sa.Table, moment: Any, window: Window) -> list[Any]:
    conditions = [table.c.tenant_id == window.tenant, table.c.workspace_id.in_(window.workspaces)]
    if window.since is not None:
        conditions.append(moment >= window.since)
    if window.until is not None:
        conditions.append(moment < window.until)
    if window.after is not None:
        conditions.append(table.c.id > window.after)
    return conditions


async def developer_ids(session: AsyncSession, tenant: UUID, developer: UUID) -> list[UUID]:
    """Every developer id that reads as ``developer`` now (it and those merged into it)."""
    t = developers
    current = (
        sa.select(t.c.current_id)
        .where(t.c.tenant_id == tenant, t.c.developer_id == developer)
        .scalar_subquery()
    )
    rows = await session.execute(
        sa.select(t.c.developer_id).where(
            t.c.tenant_id == tenant, t.c.current_id == sa.func.coalesce(current, developer)
        )
    )
    return sorted({developer, *(row[0] for row in rows)})


# change requests ---------------------------------------------------------------------------

CR_STATE = sa.case(
    (change_requests.c.merged_at.is_not(None), "merged"),
    (change_requests.c.closed_at.is_not(None), "closed"),
    else_="open",
)


def _change_request_select() -> tuple[sa.Select[Any], Any]:
    cr = change_requests
    author, author_bot, person = _person(cr.c.author_developer_id, cr.c.author_is_bot, "author")
    select = sa.select(
        cr,
        CR_STATE.label("state"),
        author.label("author_now"),
        author_bot.label("author_bot"),
    ).select_from(cr.outerjoin(person, _on_map(person, cr.c.tenant_id, cr.c.author_developer_id)))
    return select, author_bot


async def list_change_requests(
    session: AsyncSession,
    window: Window,
    state: str | None,
    authors: Sequence[UUID] | None,
    repository: str | None,
) -> list[sa.Row[Any]]:
    cr = change_requests
    select, author_bot = _change_request_select()
    conditions = _window(cr, cr.c.opened_at, window)
    if state is not None:
        conditions.append(state == CR_STATE)
    if authors is not None:
        conditions.append(cr.c.author_developer_id.in_(list(authors)))
    if repository is not None:
        conditions.append(cr.c.repository == repository)
    if not window.include_bots:
        conditions.append(sa.not_(author_bot))
    rows = await session.execute(select.where(*conditions).order_by(cr.c.id).limit(window.limit))
    return list(rows)


async def change_request(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], id: UUID
) -> sa.Row[Any] | None:
    cr = change_requests
    select, _ = _change_request_select()
    rows = await session.execute(
        select.where(cr.c.tenant_id == tenant, cr.c.workspace_id.in_(workspaces), cr.c.id == id)
    )
    found: sa.Row[Any] | None = rows.first()
    return found


async def reviews_of(session: AsyncSession, tenant: UUID, change_id: UUID) -> list[sa.Row[Any]]:
    r = reviews
    reviewer, reviewer_bot, person = _person(
        r.c.reviewer_developer_id, r.c.reviewer_is_bot, "reviewer"
    )
    rows = await session.execute(
        sa.select(r, reviewer.label("reviewer_now"), reviewer_bot.label("reviewer_bot"))
        .select_from(r.outerjoin(person, _on_map(person, r.c.tenant_id, r.c.reviewer_developer_id)))
        .where(r.c.tenant_id == tenant, r.c.change_request_id == change_id)
        .order_by(r.c.submitted_at, r.c.review_id)
    )
    return list(rows)


async def commits_of(
    session: AsyncSession,
    tenant: UUID,
    workspace: UUID,
    repository_id: str,
    commit_shas: Sequence[str],
    head_branch: str,
) -> list[sa.Row[Any]]:
    """The change's commits as pushed: those the merge listed, else those first pushed to
    its head branch (the same rule as its first commit time)."""
    c = commits
    author, author_bot, person = _person(c.c.author_developer_id, c.c.author_is_bot, "author")
    belongs = c.c.sha.in_(list(commit_shas)) if commit_shas else c.c.branch == head_branch
    rows = await session.execute(
        sa.select(c, author.label("author_now"), author_bot.label("author_bot"))
        .select_from(c.outerjoin(person, _on_map(person, c.c.tenant_id, c.c.author_developer_id)))
        .where(
            c.c.tenant_id == tenant,
            c.c.workspace_id == workspace,
            c.c.repository_id == repository_id,
            belongs,
        )
        .order_by(c.c.authored_at, c.c.sha)
    )
    return list(rows)


# deployments ---------------------------------------------------------------------------------

DEPLOYED_AT = sa.func.coalesce(deployments.c.finished_at, deployments.c.status_at)


def _deployment_select() -> tuple[sa.Select[Any], Any]:
    d, dc = deployments, deployment_changes
    by, by_bot, person = _person(d.c.deployed_by_developer_id, d.c.deployed_by_is_bot, "by")
    shipped = (
        sa.select(sa.func.count())
        .where(dc.c.tenant_id == d.c.tenant_id, dc.c.deployment_id == d.c.id, dc.c.counted)
        .scalar_subquery()
    )
    select = sa.select(
        d, by.label("by_now"), by_bot.label("by_bot"), shipped.label("changes_shipped")
    ).select_from(d.outerjoin(person, _on_map(person, d.c.tenant_id, d.c.deployed_by_developer_id)))
    return select, by_bot


async def list_deployments(
    session: AsyncSession,
    window: Window,
    environment: str | None,
    status: str | None,
    production: bool | None,
    repository: str | None,
) -> list[sa.Row[Any]]:
    d = deployments
    select, by_bot = _deployment_select()
    conditions = _window(d, DEPLOYED_AT, window)
    if environment is not None:
        conditions.append(d.c.environment == environment)
    if status is not None:
        conditions.append(d.c.status == status)
    if production is not None:
        conditions.append(d.c.is_production == production)
    if repository is not None:
        conditions.append(d.c.repository == repository)
    if not window.include_bots:
        conditions.append(sa.not_(by_bot))
    rows = await session.execute(select.where(*conditions).order_by(d.c.id).limit(window.limit))
    return list(rows)


async def deployment(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], id: UUID
) -> sa.Row[Any] | None:
    d = deployments
    select, _ = _deployment_select()
    rows = await session.execute(
        select.where(d.c.tenant_id == tenant, d.c.workspace_id.in_(workspaces), d.c.id == id)
    )
    found: sa.Row[Any] | None = rows.first()
    return found


async def shipped_by(session: AsyncSession, tenant: UUID, deployment_id: UUID) -> list[sa.Row[Any]]:
    cr, dc = change_requests, deployment_changes
    author, _, person = _person(cr.c.author_developer_id, cr.c.author_is_bot, "author")
    rows = await session.execute(
        sa.select(cr, author.label("author_now"), dc.c.counted)
        .select_from(
            dc.join(
                cr, sa.and_(cr.c.tenant_id == dc.c.tenant_id, cr.c.id == dc.c.change_request_id)
            ).outerjoin(person, _on_map(person, cr.c.tenant_id, cr.c.author_developer_id))
        )
        .where(dc.c.tenant_id == tenant, dc.c.deployment_id == deployment_id)
        .order_by(cr.c.merged_at, cr.c.id)
    )
    return list(rows)


# incidents and builds ------------------------------------------------------------------------


def _caused_by() -> Any:
    """The last successful production deployment of the blamed SHA, in the incident's
    workspace, at or before it opened."""
    d, i = deployments, incidents
    return (
        sa.select(d.c.id)
        .where(
            d.c.tenant_id == i.c.tenant_id,
            d.c.workspace_id == i.c.workspace_id,
            d.c.sha == i.c.deployment_sha,
            d.c.is_production,
            d.c.succeeded_at <= i.c.opened_at,
        )
        .order_by(d.c.succeeded_at.desc(), d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


INCIDENT_STATE = sa.case((incidents.c.resolved_at.is_not(None), "resolved"), else_="open")


async def list_incidents(
    session: AsyncSession,
    window: Window,
    state: str | None,
    severity: str | None,
    service: str | None,
) -> list[sa.Row[Any]]:
    i = incidents
    conditions = _window(i, i.c.opened_at, window)
    if state is not None:
        conditions.append(state == INCIDENT_STATE)
    if severity is not None:
        conditions.append(i.c.severity == severity)
    if service is not None:
        conditions.append(i.c.service == service)
    rows = await session.execute(
        sa.select(i, INCIDENT_STATE.label("state"), _caused_by().label("caused_by"))
        .where(*conditions)
        .order_by(i.c.id)
        .limit(window.limit)
    )
    return list(rows)


async def incident(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], id: UUID
) -> sa.Row[Any] | None:
    i = incidents
    rows = await session.execute(
        sa.select(i, INCIDENT_STATE.label("state"), _caused_by().label("caused_by")).where(
            i.c.tenant_id == tenant, i.c.workspace_id.in_(workspaces), i.c.id == id
        )
    )
    found: sa.Row[Any] | None = rows.first()
    return found


def _build_select() -> tuple[sa.Select[Any], Any]:
    b = builds
    by, by_bot, person = _person(b.c.triggered_by_developer_id, b.c.triggered_by_is_bot, "by")
    select = sa.select(b, by.label("by_now"), by_bot.label("by_bot")).select_from(
        b.outerjoin(person, _on_map(person, b.c.tenant_id, b.c.triggered_by_developer_id))
    )
    return select, by_bot


async def list_builds(
    session: AsyncSession,
    window: Window,
    status: str | None,
    repository: str | None,
    branch: str | None,
) -> list[sa.Row[Any]]:
    b = builds
    select, by_bot = _build_select()
    conditions = _window(b, b.c.finished_at, window)
    if status is not None:
        conditions.append(b.c.status == status)
    if repository is not None:
        conditions.append(b.c.repository == repository)
    if branch is not None:
        conditions.append(b.c.branch == branch)
    if not window.include_bots:
        conditions.append(sa.not_(by_bot))
    rows = await session.execute(select.where(*conditions).order_by(b.c.id).limit(window.limit))
    return list(rows)


async def build(
    session: AsyncSession, tenant: UUID, workspaces: Sequence[UUID], id: UUID
) -> sa.Row[Any] | None:
    b = builds
    select, _ = _build_select()
    rows = await session.execute(
        select.where(b.c.tenant_id == tenant, b.c.workspace_id.in_(workspaces), b.c.id == id)
    )
    found: sa.Row[Any] | None = rows.first()
    return found


# DORA inputs ----------------------------------------------------------------------------------


def _live_or_kept(live: sa.Table, kept: sa.Table, **same: sa.ColumnElement[Any]) -> sa.Subquery:
    """The rows DORA reads of ``live``: its own and the facts a class purge kept of those it
    deleted (retention.py), named as ``live`` is, so DORA for a period outlives the purge.
    A kept row whose record is live again (a restore's replay projected it anew) is left
    out: a record counts once, as the live row says. ``same``: what every kept row was."""
    names = [c.name for c in kept.c]
    again = sa.exists().where(live.c.tenant_id == kept.c.tenant_id, live.c.id == kept.c.id)
    return sa.union_all(
        sa.select(*(live.c[n] for n in [*names, *same])),
        sa.select(*(kept.c[n] for n in names), *(v.label(n) for n, v in same.items())).where(
            sa.not_(again)
        ),
    ).subquery(live.name)


DORA_DEPLOYMENTS = _live_or_kept(deployments, kept_deployments, is_production=sa.true())
DORA_CHANGES = _live_or_kept(change_requests, kept_changes)
DORA_INCIDENTS = _live_or_kept(incidents, kept_incidents)


def _production(tenant: UUID, workspaces: Sequence[UUID]) -> list[Any]:
    """The scope's successful production deployments (what DORA counts as one)."""
    d = DORA_DEPLOYMENTS
    return [
        d.c.tenant_id == tenant,
        d.c.workspace_id.in_(workspaces),
        d.c.is_production,
        d.c.status == "success",
    ]


def _shipped(
    tenant: UUID, workspaces: Sequence[UUID], since: datetime, until: datetime, include_bots: bool
) -> tuple[Any, list[Any]]:
    """The counted changes a production deployment shipped in the range (bots' left out
    unless asked): the join and the conditions."""
    c = DORA_CHANGES
    _, author_bot, author = _person(c.c.author_developer_id, c.c.author_is_bot, "author")
    conditions = [
        c.c.tenant_id == tenant,
        c.c.workspace_id.in_(workspaces),
        c.c.deployment_id.is_not(None),
        c.c.deployed_at >= since,
        c.c.deployed_at < until,
    ]
    if not include_bots:
        conditions.append(sa.not_(author_bot))
    joined = c.outerjoin(author, _on_map(author, c.c.tenant_id, c.c.author_developer_id))
    return joined, conditions


def _opened_select(
    tenant: UUID, workspaces: Sequence[UUID], since: datetime, until: datetime
) -> sa.Select[Any]:
    """The incidents opened in the range, each with the repository of the production
    deployment of the SHA its tool blamed, if any."""
    d, i = DORA_DEPLOYMENTS, DORA_INCIDENTS
    blamed = (
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
    return sa.select(
        i.c.id,
        i.c.workspace_id,
        i.c.service,
        i.c.opened_at,
        i.c.resolved_at,
        blamed.label("blamed_repository"),
    ).where(
        i.c.tenant_id == tenant,
        i.c.workspace_id.in_(workspaces),
        i.c.opened_at >= since,
        i.c.opened_at < until,
    )


def _incident(
    incident_id: UUID,
    workspace: UUID,
    service: str | None,
    opened_at: datetime,
    resolved_at: datetime | None,
    blamed_repository: str | None,
) -> tuple[UUID, dora.Incident]:
    """An incident (a row of :func:`_opened_select`, in its order) with its workspace, of
    the service of the deployment its tool blamed when there is one, else its own."""
    key = dora.service_key(workspace, blamed_repository or service, incident_id)
    return workspace, dora.Incident(incident_id, key, opened_at, resolved_at)


async def _opened(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
) -> list[tuple[UUID, dora.Incident]]:
    """The incidents opened in the range with their workspace (:func:`_incident`)."""
    rows = await session.execute(
        _opened_select(tenant, workspaces, since, until).order_by(DORA_INCIDENTS.c.id)
    )
    return [_incident(*r) for r in rows]


async def dora_inputs(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
    window: timedelta,
    include_bots: bool,
) -> tuple[list[dora.Deployment], list[dora.Change], list[dora.Incident]]:
    """Every record the DORA rules read literally (:func:`dora.compute`): the successful
    production deployments from ``window`` before ``since`` (an incident early in the range
    may belong to an earlier one) to ``until``, the counted changes shipped in the range,
    the incidents opened in it. The reference :func:`dora_tally` is tested against; a view's
    year is tens of thousands of rows, too many to answer from."""
    d, c = DORA_DEPLOYMENTS, DORA_CHANGES
    deployed = await session.execute(
        sa.select(d.c.id, d.c.workspace_id, d.c.repository, d.c.succeeded_at)
        .where(
            *_production(tenant, workspaces),
            d.c.succeeded_at >= dora.earlier(since, window),
            d.c.succeeded_at < until,
        )
        .order_by(d.c.succeeded_at, d.c.id)
    )
    joined, conditions = _shipped(tenant, workspaces, since, until, include_bots)
    shipped = await session.execute(
        sa.select(c.c.id, c.c.opened_at, c.c.first_commit_at, c.c.deployed_at)
        .select_from(joined)
        .where(*conditions)
        .order_by(c.c.id)
    )
    return (
        [
            dora.Deployment(
                r.id, dora.service_key(r.workspace_id, r.repository, r.id), r.succeeded_at
            )
            for r in deployed
        ],
        [dora.Change(r.id, r.opened_at, r.first_commit_at, r.deployed_at) for r in shipped],
        [incident for _, incident in await _opened(session, tenant, workspaces, since, until)],
    )


_WEEK = timedelta(days=dora.WEEK_DAYS)
_TIMESTAMP = sa.DateTime(timezone=True)
_TIMESTAMPS = ARRAY(_TIMESTAMP)


async def dora_tally(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
    window: timedelta,
    definition: dora.Definition,
    include_bots: bool,
) -> dora.Tally:
    """What :func:`dora_inputs` and :func:`dora.tally` make of every record, summed in the
    database so a view's year answers from a few hundred rows: deployments per 7-day
    bucket and UTC date; the lead times' count, median and P85 (``percentile_cont`` is
    :func:`dora.percentile`'s rule, on the same float seconds); the incidents; per incident
    the last deployment of each repository of its workspace within the window (the
    incident's is the latest of its service's); and the deployments made while an
    attributed incident of their service was open, counted per span of
    :func:`dora.open_spans` and repository. Its statements agree with each other in a
    REPEATABLE READ transaction (:meth:`Database.snapshot_transaction`)."""
    await _plan_for_values(session)
    days = await _deployment_days(session, tenant, workspaces, since, until)
    lead = await _lead_time(session, tenant, workspaces, since, until, include_bots)
    opened, caused = await _opened_and_attributed(session, tenant, workspaces, since, until, window)
    rework = 0
    if definition.rework_rate:
        rework = await _rework(session, tenant, since, until, opened, caused)
    return dora.Tally(
        deployment_days=days,
        lead_time=lead,
        incidents=[incident for _, incident in opened],
        caused=caused,
        rework=rework,
    )


async def _plan_for_values(session: AsyncSession) -> None:
    """Plan each query for the values at hand: the generic plan a prepared statement gets
    after five runs cannot see how few incidents and spans there are, and merged every
    deployment of the workspaces against them (a call took 0.3 s, then 0.9 s). In UTC, so
    the attribution window's days are 24 hours each."""
    await session.execute(
        sa.select(
            sa.func.set_config("plan_cache_mode", "force_custom_plan", True),
            sa.func.set_config("TimeZone", "UTC", True),
        )
    )


async def _deployment_days(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
) -> list[dora.DeploymentDay]:
    """The range's deployments per 7-day bucket from ``since`` and UTC date: weeks by
    ``date_bin`` (timestamp arithmetic; the epoch seconds' numeric division cost as much
    as the scan), turned into their number here."""
    d = DORA_DEPLOYMENTS
    week = sa.func.date_bin(
        sa.literal(_WEEK, sa.Interval), d.c.succeeded_at, sa.literal(since, _TIMESTAMP)
    )
    day = sa.cast(sa.func.timezone("UTC", d.c.succeeded_at), sa.Date)
    rows = await session.execute(
        sa.select(week, day, sa.func.count())
        .where(
            *_production(tenant, workspaces), d.c.succeeded_at >= since, d.c.succeeded_at < until
        )
        .group_by(week, day)
        .order_by(week, day)
    )
    return [dora.DeploymentDay((r[0] - since) // _WEEK, r[1], r[2]) for r in rows]


async def _lead_time(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
    include_bots: bool,
) -> dora.Spread:
    """The shipped changes' lead times: count, median and P85 (``percentile_cont`` is
    :func:`dora.percentile`'s rule, on the same float seconds)."""
    c = DORA_CHANGES
    joined, conditions = _shipped(tenant, workspaces, since, until, include_bots)
    lead = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.percentile_cont(
                    sa.literal([0.5, 0.85], ARRAY(DOUBLE_PRECISION))
                ).within_group(c.c.lead_seconds),
            )
            .select_from(joined)
            .where(*conditions)
        )
    ).one()
    return dora.Spread(lead[0], *(lead[1] or (None, None)))


async def _opened_and_attributed(
    session: AsyncSession,
    tenant: UUID,
    workspaces: Sequence[UUID],
    since: datetime,
    until: datetime,
    window: timedelta,
) -> tuple[list[tuple[UUID, dora.Incident]], dict[UUID, dora.Deployment]]:
    """The incidents opened in the range (:func:`_opened`) and each one's deployment
    (:func:`dora.attribute`) in one statement: per incident, the last deployment of each
    repository of its workspace within the window (one index range each, never the range's
    deployments), the latest of its service's chosen here. Needs the transaction's time zone
    to be UTC, so a day of the window is 24 hours."""
    d = DORA_DEPLOYMENTS
    opened = _opened_select(tenant, workspaces, since, until).subquery("opened")
    lowest = sa.func.greatest(
        opened.c.opened_at - sa.literal(window, sa.Interval),
        sa.literal(dora.earlier(since, window), _TIMESTAMP),
    )
    last = (
        sa.select(d.c.id, d.c.repository, d.c.succeeded_at)
        .where(
            *_production(tenant, workspaces),
            d.c.workspace_id == opened.c.workspace_id,
            d.c.succeeded_at <= opened.c.opened_at,
            d.c.succeeded_at >= lowest,
        )
        .ext(distinct_on(d.c.repository))
        .order_by(d.c.repository, d.c.succeeded_at.desc(), d.c.id.desc())
        .lateral("last")
    )
    rows = await session.execute(
        sa.select(
            opened,
            last.c.id.label("deployment_id"),
            last.c.repository,
            last.c.succeeded_at,
        )
        .select_from(opened.outerjoin(last, sa.true()))
        .order_by(opened.c.id)
    )
    listed: list[tuple[UUID, dora.Incident]] = []
    candidates: dict[UUID, list[dora.Deployment]] = defaultdict(list)
    for *incident, deployment_id, repository, succeeded_at in rows:
        incident_id, workspace = incident[0], incident[1]
        if not listed or listed[-1][1].id != incident_id:
            listed.append(_incident(*incident))
        if deployment_id is not None:
            service = dora.service_key(workspace, repository, deployment_id)
            candidates[incident_id].append(dora.Deployment(deployment_id, service, succeeded_at))
    return listed, dora.latest_of_service([i for _, i in listed], candidates)


async def _rework(
    session: AsyncSession,
    tenant: UUID,
    since: datetime,
    until: datetime,
    opened: Sequence[tuple[UUID, dora.Incident]],
    caused: dict[UUID, dora.Deployment],
) -> int:
    """Deployments in the range made while an attributed incident of their service was
    open: counted per disjoint span of the service and repository of its workspace, kept
    where the repository is of the span's service (so none is counted twice). A span still
    open ends at ``until`` (a bound the index can use)."""
    workspace_of = {i.service: w for w, i in opened}
    spans = [
        (service, start, end)
        for service, merged in dora.open_spans([i for _, i in opened], caused).items()
        for start, end in merged
    ]
    if not spans:
        return 0
    d = DORA_DEPLOYMENTS
    span = (
        sa.func.unnest(
            sa.literal([workspace_of[service] for service, _, _ in spans], ARRAY(sa.Uuid)),
            sa.literal([start for _, start, _ in spans], _TIMESTAMPS),
            sa.literal([until if end is None else end for _, _, end in spans], _TIMESTAMPS),
        )
        .table_valued(
            sa.column("workspace_id", sa.Uuid),
            sa.column("opened_at", sa.DateTime(timezone=True)),
            sa.column("resolved_at", sa.DateTime(timezone=True)),
            with_ordinality="n",
        )
        .render_derived(name="span")
    )
    made = (
        sa.select(d.c.repository, sa.func.count().label("deployments"))
        .where(
            d.c.tenant_id == tenant,
            d.c.workspace_id == span.c.workspace_id,
            d.c.is_production,
            d.c.status == "success",
            d.c.succeeded_at > span.c.opened_at,
            d.c.succeeded_at <= span.c.resolved_at,
            d.c.succeeded_at >= since,
            d.c.succeeded_at < until,
        )
        .group_by(d.c.repository)
        .lateral("made")
    )
    rows = await session.execute(
        sa.select(span.c.n, made.c.repository, made.c.deployments).select_from(
            span.join(made, sa.true())
        )
    )
    return sum(
        count
        for n, repository, count in rows
        if dora.service_of(workspace_of[spans[n - 1][0]], repository) == spans[n - 1][0]
    )


# flow and review inputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class FlowFilter:
    """Whose flow: a scope's workspaces over ``[since, until)``, bots' changes or not, and
    optionally one developer's (every id that reads as them) changes and work items."""

    tenant: UUID
    workspaces: Sequence[UUID]
    since: datetime
    until: datetime
    include_bots: bool
    developers: Sequence[UUID] | None
    team: UUID | None = None
    """Only the team's: a change whose author was in it on the day it merged (else opened),
    a work item whose assignee was in it on the day it was done (else the range's last)."""


def _in_range(column: Any, f: FlowFilter) -> Any:
    return sa.and_(column >= f.since, column < f.until)


def _flow_changes(f: FlowFilter) -> tuple[Any, list[Any]]:
    """The scope's change requests (bots' and others' filtered out as asked), the author
    map joined; callers add which moments matter."""
    c = change_requests
    author, author_bot, person = _person(c.c.author_developer_id, c.c.author_is_bot, "author")
    conditions = [c.c.tenant_id == f.tenant, c.c.workspace_id.in_(f.workspaces)]
    if not f.include_bots:
        conditions.append(sa.not_(author_bot))
    if f.developers is not None:
        conditions.append(c.c.author_developer_id.in_(list(f.developers)))
    if f.team is not None:
        day = teams.utc_day_of(sa.func.coalesce(c.c.merged_at, c.c.opened_at))
        conditions.append(teams.in_team_on(f.tenant, f.team, author, day))
    joined = c.outerjoin(person, _on_map(person, c.c.tenant_id, c.c.author_developer_id))
    return (joined, author), conditions


async def flow_changes(session: AsyncSession, f: FlowFilter) -> list[sa.Row[Any]]:
    """Each change request opened or merged in the range: its milestones, its author as
    they read now and how many commits it listed."""
    c = change_requests
    (joined, author), conditions = _flow_changes(f)
    rows: sa.Result[Any] = await session.execute(
        sa.select(
            c.c.id,
            author.label("author_now"),
            c.c.opened_at,
            c.c.first_commit_at,
            c.c.first_review_at,
            c.c.merged_at,
            c.c.deployed_at,
            sa.func.cardinality(c.c.commit_shas).label("commits"),
        )
        .select_from(joined)
        .where(*conditions, sa.or_(_in_range(c.c.opened_at, f), _in_range(c.c.merged_at, f)))
        .order_by(c.c.id)
    )
    return list(rows)


async def flow_reviews(session: AsyncSession, f: FlowFilter) -> list[sa.Row[Any]]:
    """The reviews of the changes :func:`flow_changes` reads, and those submitted in the
    range on any of the scope's changes; reviewer and author as they read now."""
    c, r = change_requests, reviews
    (joined, author), conditions = _flow_changes(f)
    reviewer, reviewer_bot, person = _person(
        r.c.reviewer_developer_id, r.c.reviewer_is_bot, "reviewer"
    )
    rows: sa.Result[Any] = await session.execute(
        sa.select(
            r.c.change_request_id,
            r.c.review_id,
            author.label("author_now"),
            reviewer.label("reviewer_now"),
            reviewer_bot.label("reviewer_bot"),
            r.c.state,
            r.c.submitted_at,
        )
        .select_from(
            joined.join(
                r, sa.and_(r.c.tenant_id == c.c.tenant_id, r.c.change_request_id == c.c.id)
            ).outerjoin(person, _on_map(person, r.c.tenant_id, r.c.reviewer_developer_id))
        )
        .where(
            *conditions,
            sa.or_(
                _in_range(c.c.opened_at, f),
                _in_range(c.c.merged_at, f),
                _in_range(r.c.submitted_at, f),
            ),
        )
        .order_by(r.c.change_request_id, r.c.submitted_at, r.c.review_id)
    )
    return list(rows)


async def flow_work_items(session: AsyncSession, f: FlowFilter) -> list[sa.Row[Any]]:
    """The work items not deleted that were in progress or done within the range."""
    w = work_items
    conditions = [
        w.c.tenant_id == f.tenant,
        w.c.workspace_id.in_(f.workspaces),
        w.c.deleted_at.is_(None),
        sa.or_(w.c.done_at.is_(None), w.c.done_at >= f.since),
        sa.or_(w.c.started_at < f.until, w.c.done_at < f.until),
    ]
    if f.developers is not None:
        conditions.append(w.c.assignee_developer_id.in_(list(f.developers)))
    if f.team is not None:
        last_day = (f.until - timedelta(microseconds=1)).astimezone(UTC).date()
        day = sa.func.coalesce(teams.utc_day_of(w.c.done_at), last_day)
        assignee = teams.reads_as(f.tenant, w.c.assignee_developer_id)
        conditions.append(teams.in_team_on(f.tenant, f.team, assignee, day))
    rows: sa.Result[Any] = await session.execute(
        sa.select(w.c.id, w.c.started_at, w.c.done_at).where(*conditions).order_by(w.c.id)
    )
    return list(rows)

"""Insights's HTTP routes (behind the gateway's internal token): what was ingested, read
back per scope — change requests, deployments, incidents, builds — paged with the
runtime's cursor, as JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from sextant.insights.db import reads
from sextant.insights.schemas import (
    BuildPage,
    BuildStatus,
    BuildSummary,
    ChangeRequestDetail,
    ChangeRequestPage,
    ChangeRequestSummary,
    ChangeState,
    CommitView,
    DeploymentDetail,
    DeploymentPage,
    DeploymentStatus,
    DeploymentSummary,
    IncidentPage,
    IncidentState,
    IncidentSummary,
    Review,
    ShippedChange,
)
from sextant.runtime.app import Session
from sextant.runtime.errors import InvalidInput, NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, Moment, after_id, next_cursor
from sextant.runtime.scope import QueryScope, ScopeParam
from sextant.runtime.tabular import CSV_RESPONSE, list_reply
from sextant.runtime.tokens import Caller

router = APIRouter(prefix="/v1", tags=["insights"])

Since = Annotated[
    Moment | None, Query(description="at or after this moment (ISO 8601 with an offset)")
]
Until = Annotated[Moment | None, Query(description="before this moment (ISO 8601 with an offset)")]
IncludeBots = Annotated[
    bool,
    Query(description="include what bots did (left out by default, as in every metric)"),
]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # a control character names nothing a tool stores


def text_filter(description: str, max_length: int) -> Any:
    """A free-text equality filter: bounded, and refused (422, named) with a control
    character rather than sent to PostgreSQL, which cannot hold a NUL."""
    return Query(max_length=max_length, pattern=PRINTABLE, description=description)


Repository = Annotated[
    str | None, text_filter("only this repository, e.g. octo-org/octo-repo", 500)
]

LIST_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_response("a bad scope, a cursor this API did not give out, or since after until"),
    422: problem_response("a parameter of the wrong type or out of range (named in the detail)"),
}
ONE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_response("a bad scope"),
    404: problem_response("no such record in the scope"),
    422: problem_response("the id is not a UUID"),
}
LIST_RESPONSES: dict[int | str, dict[str, Any]] = {200: CSV_RESPONSE, **LIST_PROBLEMS}


PER_TENANT = "what was ingested is per tenant"  # why a call needs a tenant, in its 400


def _window(
    caller: Caller,
    scope: QueryScope,
    since: datetime | None,
    until: datetime | None,
    include_bots: bool,
    limit: int,
    cursor: str | None,
) -> reads.Window:
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until", parameter="since")
    return reads.Window(
        tenant=caller.tenant(PER_TENANT),
        workspaces=scope.workspaces,
        since=since,
        until=until,
        include_bots=include_bots,
        limit=limit,
        after=after_id(cursor),
    )


# change requests ------------------------------------------------------------------------------


def _change_request(row: sa.Row[Any]) -> ChangeRequestSummary:
    return ChangeRequestSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        repository=row.repository,
        number=row.number,
        title=row.title,
        url=row.url,
        state=row.state,
        draft=row.draft,
        author_developer_id=row.author_now,
        author_is_bot=row.author_bot,
        base_branch=row.base_branch,
        head_branch=row.head_branch,
        opened_at=row.opened_at,
        first_commit_at=row.first_commit_at,
        first_review_at=row.first_review_at,
        merged_at=row.merged_at,
        closed_at=row.closed_at,
        merge_sha=row.merge_sha,
        deployment_id=row.deployment_id,
        deployed_at=row.deployed_at,
    )


@router.get(
    "/change-requests",
    response_model=ChangeRequestPage,
    summary="Change requests (pull and merge requests) in a scope",
    description="Opened in the time range, newest state of each; bots' left out unless "
    "include_bots=true. Ordered by id; page with next_cursor. Accept: text/csv for rows.",
    responses=LIST_RESPONSES,
)
async def list_change_requests(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    state: Annotated[ChangeState | None, Query(description="open, merged or closed")] = None,
    author: Annotated[
        UUID | None,
        Query(description="the author's developer id (those merged into it included)"),
    ] = None,
    repository: Repository = None,
    since: Since = None,
    until: Until = None,
    include_bots: IncludeBots = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> BaseModel | Response:
    window = _window(caller, scope, since, until, include_bots, limit, cursor)
    authors = None if author is None else await reads.developer_ids(session, window.tenant, author)
    rows = await reads.list_change_requests(session, window, state, authors, repository)
    page = ChangeRequestPage(
        items=[_change_request(r) for r in rows],
        next_cursor=next_cursor(rows, limit, lambda r: r.id),
    )
    return list_reply(request, page, ChangeRequestSummary)


@router.get(
    "/change-requests/{change_request_id}",
    response_model=ChangeRequestDetail,
    summary="One change request with its reviews, commits and the deployment that shipped it",
    responses=ONE_PROBLEMS,
)
async def get_change_request(
    caller: Caller,
    session: Session,
    change_request_id: Annotated[
        UUID, Path(description="the change request's id, as a list gives it")
    ],
    scope: ScopeParam,
) -> ChangeRequestDetail:
    """The change request as it stands (state, times from first commit to merge), every
    review in order, the commits it carries, and the production deployment that shipped it
    (none until one has). 404 when it is not in the scope."""
    tenant = caller.tenant(PER_TENANT)
    row = await reads.change_request(session, tenant, scope.workspaces, change_request_id)
    if row is None:
        raise NotFound(f"no change request {change_request_id} in {scope.text}")
    reviews = await reads.reviews_of(session, tenant, row.id)
    commits = await reads.commits_of(
        session, tenant, row.workspace_id, row.repository_id, row.commit_shas, row.head_branch
    )
    shipped = None
    if row.deployment_id is not None:
        found = await reads.deployment(session, tenant, [row.workspace_id], row.deployment_id)
        shipped = None if found is None else _deployment(found)
    return ChangeRequestDetail(
        **_change_request(row).model_dump(),
        labels=row.labels,
        commit_shas=row.commit_shas,
        commits_source=row.commits_source,
        reviews=[
            Review(
                review_id=r.review_id,
                reviewer_developer_id=r.reviewer_now,
                reviewer_is_bot=r.reviewer_bot,
                state=r.state,
                submitted_at=r.submitted_at,
            )
            for r in reviews
        ],
        commits=[
            CommitView(
                sha=c.sha,
                title=c.title,
                author_developer_id=c.author_now,
                author_is_bot=c.author_bot,
                authored_at=c.authored_at,
                branch=c.branch,
            )
            for c in commits
        ],
        deployment=shipped,
    )


# deployments ----------------------------------------------------------------------------------


def _deployment(row: sa.Row[Any]) -> DeploymentSummary:
    return DeploymentSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        repository=row.repository,
        environment=row.environment,
        is_production=row.is_production,
        sha=row.sha,
        status=row.status,
        url=row.url,
        started_at=row.started_at,
        finished_at=row.finished_at,
        succeeded_at=row.succeeded_at,
        deployed_by_developer_id=row.by_now,
        deployed_by_is_bot=row.by_bot,
        changes_shipped=row.changes_shipped,
    )


@router.get(
    "/deployments",
    response_model=DeploymentPage,
    summary="Deployments in a scope",
    description="Deployments finished (or last heard of) in the time range, every environment "
    "unless one is named. Ordered by id; page with next_cursor. Accept: text/csv for rows.",
    responses=LIST_RESPONSES,
)
async def list_deployments(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    environment: Annotated[
        str | None, text_filter("only this environment, e.g. production", 200)
    ] = None,
    production: Annotated[
        bool | None, Query(description="only production (true) or only the others (false)")
    ] = None,
    status: Annotated[DeploymentStatus | None, Query(description="only this status")] = None,
    repository: Repository = None,
    since: Since = None,
    until: Until = None,
    include_bots: IncludeBots = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> BaseModel | Response:
    window = _window(caller, scope, since, until, include_bots, limit, cursor)
    rows = await reads.list_deployments(
        session, window, environment, status, production, repository
    )
    page = DeploymentPage(
        items=[_deployment(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )
    return list_reply(request, page, DeploymentSummary)


@router.get(
    "/deployments/{deployment_id}",
    response_model=DeploymentDetail,
    summary="One deployment with the change requests it shipped",
    responses=ONE_PROBLEMS,
)
async def get_deployment(
    caller: Caller,
    session: Session,
    deployment_id: Annotated[UUID, Path(description="the deployment's id, as a list gives it")],
    scope: ScopeParam,
) -> DeploymentDetail:
    """The deployment (environment, status, SHA, times) and the change requests it shipped;
    each says whether it counts, since a first deployment's inherited changes do not.
    404 when it is not in the scope."""
    tenant = caller.tenant(PER_TENANT)
    row = await reads.deployment(session, tenant, scope.workspaces, deployment_id)
    if row is None:
        raise NotFound(f"no deployment {deployment_id} in {scope.text}")
    changes = await reads.shipped_by(session, tenant, row.id)
    return DeploymentDetail(
        **_deployment(row).model_dump(),
        changes=[
            ShippedChange(
                id=c.id,
                repository=c.repository,
                number=c.number,
                title=c.title,
                merged_at=c.merged_at,
                author_developer_id=c.author_now,
                counted=c.counted,
            )
            for c in changes
        ],
    )


# incidents ------------------------------------------------------------------------------------


def _incident(row: sa.Row[Any]) -> IncidentSummary:
    return IncidentSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        title=row.title,
        severity=row.severity,
        service=row.service,
        url=row.url,
        state=row.state,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        deployment_sha=row.deployment_sha,
        caused_by_deployment_id=row.caused_by,
    )


@router.get(
    "/incidents",
    response_model=IncidentPage,
    summary="Incidents in a scope",
    description="Incidents opened in the time range. Ordered by id; page with next_cursor. "
    "Accept: text/csv for rows.",
    responses=LIST_RESPONSES,
)
async def list_incidents(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    state: Annotated[IncidentState | None, Query(description="open or resolved")] = None,
    severity: Annotated[
        str | None, text_filter("only this severity, as the tool says it", 100)
    ] = None,
    service: Annotated[str | None, text_filter("only incidents of this service", 200)] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> BaseModel | Response:
    window = _window(caller, scope, since, until, True, limit, cursor)
    rows = await reads.list_incidents(session, window, state, severity, service)
    page = IncidentPage(
        items=[_incident(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )
    return list_reply(request, page, IncidentSummary)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentSummary,
    summary="One incident, with the deployment that caused it when the tool blamed one",
    responses=ONE_PROBLEMS,
)
async def get_incident(
    caller: Caller,
    session: Session,
    incident_id: Annotated[UUID, Path(description="the incident's id, as a list gives it")],
    scope: ScopeParam,
) -> IncidentSummary:
    """The incident with its severity, open and resolve times, and the production deployment
    of the SHA its tool blamed (the last one at or before it opened). 404 when it is not in
    the scope."""
    row = await reads.incident(session, caller.tenant(PER_TENANT), scope.workspaces, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id} in {scope.text}")
    return _incident(row)


# builds ---------------------------------------------------------------------------------------


def _build(row: sa.Row[Any]) -> BuildSummary:
    return BuildSummary(
        id=row.id,
        workspace_id=row.workspace_id,
        repository=row.repository,
        name=row.name,
        status=row.status,
        sha=row.sha,
        branch=row.branch,
        url=row.url,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=row.duration_seconds,
        triggered_by_developer_id=row.by_now,
        triggered_by_is_bot=row.by_bot,
    )


@router.get(
    "/builds",
    response_model=BuildPage,
    summary="CI builds in a scope",
    description="Builds finished in the time range; bots' left out unless include_bots=true. "
    "Ordered by id; page with next_cursor. Accept: text/csv for rows.",
    responses=LIST_RESPONSES,
)
async def list_builds(
    request: Request,
    caller: Caller,
    session: Session,
    scope: ScopeParam,
    status: Annotated[BuildStatus | None, Query(description="only this status")] = None,
    repository: Repository = None,
    branch: Annotated[str | None, text_filter("only this branch", 500)] = None,
    since: Since = None,
    until: Until = None,
    include_bots: IncludeBots = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> BaseModel | Response:
    window = _window(caller, scope, since, until, include_bots, limit, cursor)
    rows = await reads.list_builds(session, window, status, repository, branch)
    page = BuildPage(
        items=[_build(r) for r in rows], next_cursor=next_cursor(rows, limit, lambda r: r.id)
    )
    return list_reply(request, page, BuildSummary)


@router.get(
    "/builds/{build_id}",
    response_model=BuildSummary,
    summary="One CI build",
    responses=ONE_PROBLEMS,
)
async def get_build(
    caller: Caller,
    session: Session,
    build_id: Annotated[UUID, Path(description="the build's id, as a list gives it")],
    scope: ScopeParam,
) -> BuildSummary:
    """The CI build: its pipeline, branch and SHA, result and times. 404 when it is not in
    the scope."""
    row = await reads.build(session, caller.tenant(PER_TENANT), scope.workspaces, build_id)
    if row is None:
        raise NotFound(f"no build {build_id} in {scope.text}")
    return _build(row)

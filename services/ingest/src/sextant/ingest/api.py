"""Ingest's HTTP routes: source connections (behind the gateway's internal token) and the
webhook endpoint (public: authenticated by each tool's signature, not by a token)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.routing import Route

from sextant.ingest import jira_oauth, service
from sextant.ingest.backfill import runner
from sextant.ingest.db import repository
from sextant.ingest.db.repository import BackfillRow, SourceRow
from sextant.ingest.mapping import MappingRules
from sextant.ingest.schemas import (
    BackfillReply,
    BackfillRequest,
    BackfillResource,
    CreatedSourceReply,
    DeliveryList,
    DeliveryReceipt,
    DeliveryReply,
    JiraOAuthConnected,
    JiraOAuthStarted,
    JiraOAuthStatus,
    ReplayReply,
    ReplayRequest,
    SourceChange,
    SourceCreate,
    SourceList,
    SourceReply,
    SourceSuspension,
    SuspensionReply,
)
from sextant.runtime.app import ServiceState, Session, State, service_state
from sextant.runtime.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    UnsupportedMediaType,
    problem_response,
)
from sextant.runtime.paging import Cursor, Limit, after_id, next_cursor
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["sources"])

SourceId = Annotated[UUID, Path(description="the source's id (the end of its webhook URL)")]
WorkspaceId = Annotated[UUID, Path(description="the workspace the sources feed")]


def hook_route() -> Route:
    """``POST /v1/hooks/{source_id}`` as a plain Starlette route, for the spec's
    ``hot_routes``: at webhook rates FastAPI's middleware, routing and per-request
    dependency and parameter solving cost more than verifying, normalizing and storing a
    delivery, so the service's app answers it before them with the same :func:`receive`. The
    FastAPI route below stays for the OpenAPI document and answers anything else on the
    path (a GET's 405)."""

    async def endpoint(request: Request) -> Response:
        return await receive(request.path_params["source_id"], request)

    return Route("/v1/hooks/{source_id}", endpoint, methods=["POST"], include_in_schema=False)


hooks = APIRouter(prefix="/v1", tags=["webhooks"])
# Calls from other services only (the gateway's), never routed from the public edge.
internal = APIRouter(prefix="/internal", tags=["internal"])

Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]
Reader = Annotated[
    InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin", "manager"))
]


# The gateway itself (never a user's token): these routes are not in its public table.
System = Annotated[InternalClaims, Depends(caller_with_role("system"))]


PER_TENANT = "sources belong to a tenant"  # why a call needs a tenant, in its 400


def _reply(state: State, row: SourceRow) -> SourceReply:
    base = service.ingest_of(state).settings.public_base_url.rstrip("/")
    return SourceReply(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=row.kind,
        name=row.name,
        webhook_url=f"{base}/v1/hooks/{row.id}",
        mapping=MappingRules.model_validate(row.mapping),
        has_credentials=row.credentials_sealed is not None,
        disabled=row.disabled_at is not None,
        suspended=row.suspended_at is not None,
        signature_failures=row.signature_failures,
        created_at=row.created_at,
    )


@router.post(
    "/workspaces/{workspace_id}/sources",
    status_code=201,
    response_model=CreatedSourceReply,
    summary="Connect a tool: returns the webhook URL and its secret (shown once)",
)
async def create_source(
    workspace_id: WorkspaceId, body: SourceCreate, caller: Admin, session: Session, state: State
) -> CreatedSourceReply:
    """Connects a tool (GitHub, GitLab, Jira) to a workspace: configure the reply's webhook_url
    and secret in the tool (the secret is never shown again). API credentials, if given, let
    it backfill history. Tenant admins only."""
    _refuse_unreachable_urls(state, body.credentials)
    created = await service.create_source(
        session,
        state.outbox,
        service.ingest_of(state).box,
        tenant_id=caller.tenant(PER_TENANT),
        workspace_id=workspace_id,
        kind=body.kind,
        name=body.name,
        secret=body.secret,
        credentials=body.credentials,
        mapping=body.mapping,
        actor=caller.sub,
    )
    return CreatedSourceReply(**_reply(state, created.row).model_dump(), secret=created.secret)


@router.get(
    "/workspaces/{workspace_id}/sources",
    response_model=SourceList,
    summary="The workspace's sources (secrets never shown)",
)
async def list_sources(
    workspace_id: WorkspaceId, caller: Reader, session: Session, state: State
) -> SourceList:
    """The workspace's sources with their webhook URLs, mapping rules and state; never their
    secrets or credentials."""
    caller.tenant(PER_TENANT)
    rows = await repository.list_sources(session, workspace_id)
    return SourceList(items=[_reply(state, row) for row in rows])


@router.get("/sources/{source_id}", response_model=SourceReply, summary="One source")
async def get_source(
    source_id: SourceId, caller: Reader, session: Session, state: State
) -> SourceReply:
    """One source, with its webhook URL, mapping rules, state and signature failures."""
    caller.tenant(PER_TENANT)
    return _reply(state, await service.source_or_404(session, source_id))


@router.patch(
    "/sources/{source_id}",
    response_model=SourceReply,
    summary="Rename, change mapping rules, disable or enable a source",
)
async def change_source(
    source_id: SourceId, body: SourceChange, caller: Admin, session: Session, state: State
) -> SourceReply:
    """Renames a source, changes its mapping rules (replay to apply them to what was stored),
    replaces its credentials, or disables or enables it."""
    caller.tenant(PER_TENANT)
    values: dict[str, object] = {}
    if body.name is not None:
        values["name"] = body.name
    if body.mapping is not None:
        values["mapping"] = body.mapping.model_dump()
    if body.disabled is not None:
        values["disabled_at"] = _now() if body.disabled else None
    if body.credentials is not None:
        _refuse_unreachable_urls(state, body.credentials)
        values["credentials_sealed"] = (
            service.ingest_of(state).box.seal(json.dumps(body.credentials), source_id)
            if body.credentials
            else None  # {}: no credentials, not sealed emptiness that claims some
        )
    if not values:
        raise InvalidInput("nothing to change: give name, mapping, credentials or disabled")
    row = await service.change_source(
        session, state.outbox, source_id, actor=caller.sub, action="source.update", **values
    )
    service.ingest_of(state).sources.drop(source_id)
    return _reply(state, row)


def _refuse_unreachable_urls(state: ServiceState, credentials: dict[str, Any] | None) -> None:
    """422 naming each credential URL the egress policy refuses as written (http, a
    loopback or private address, localhost): a tenant's URL never aims the backfill at
    what only the service can reach. Names are resolved and checked on every call."""
    egress = service.ingest_of(state).backfills.egress
    refused = runner.refused_urls(credentials or {}, egress)
    if refused:
        raise RequestValidationError(
            [
                {"loc": ("body", "credentials", name), "msg": why, "type": "egress_refused"}
                for name, why in refused.items()
            ]
        )


@router.delete(
    "/sources/{source_id}",
    status_code=204,
    summary="Soft-delete a source: its webhook answers 404, its deliveries are kept",
    responses={204: {"description": "deleted"}},
)
async def delete_source(
    source_id: SourceId, caller: Admin, session: Session, state: State
) -> Response:
    """Soft-deletes a source: its webhook answers 404 from then on; what it delivered stays."""
    caller.tenant(PER_TENANT)
    await service.change_source(
        session,
        state.outbox,
        source_id,
        actor=caller.sub,
        action="source.delete",
        deleted_at=_now(),
    )
    service.ingest_of(state).sources.drop(source_id)
    return Response(status_code=204)


@router.get(
    "/sources/{source_id}/deliveries",
    response_model=DeliveryList,
    summary="Recent raw deliveries and what became of each",
)
async def list_deliveries(
    source_id: SourceId,
    caller: Reader,
    session: Session,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryList:
    """The source's raw webhook deliveries, newest first, with what became of each (normalized,
    ignored, failed, duplicate) and why."""
    caller.tenant(PER_TENANT)
    await service.source_or_404(session, source_id)
    rows = await repository.recent_deliveries(session, source_id, limit, after_id(cursor))
    return DeliveryList(
        items=[DeliveryReply(**row.__dict__) for row in rows],
        next_cursor=next_cursor(rows, limit, lambda row: row.id),
    )


@router.post(
    "/sources/{source_id}/replay",
    response_model=ReplayReply,
    summary="Re-normalize stored deliveries (after a mapping fix) without repeating effects",
)
async def replay(
    source_id: SourceId, body: ReplayRequest, caller: Admin, session: Session, state: State
) -> ReplayReply:
    """Normalizes stored deliveries of a time range again, with the source's current mapping
    rules; facts that now say something else are published as revisions, the rest not again."""
    caller.tenant(PER_TENANT)
    source = await service.source_or_404(session, source_id)
    replayed = await service.replay(
        session, state.outbox, source, body.since, body.until, after=body.after, limit=body.limit
    )
    return ReplayReply(**asdict(replayed))


@router.post(
    "/sources/{source_id}/backfill",
    status_code=202,
    response_model=BackfillReply,
    summary="Fetch history through the tool's API; resumes a stopped backfill of the same start",
    responses={
        409: problem_response("a backfill of this source is already running"),
        410: problem_response("the source's workspace or tenant is deleted"),
    },
)
async def start_backfill(
    source_id: SourceId, body: BackfillRequest, caller: Admin, state: State
) -> BackfillReply:
    """Starts fetching the source's history since a time through the tool's API, with its
    stored credentials; progress at GET of the same path."""
    job = await service.start_backfill(state, caller.tenant(PER_TENANT), source_id, body.since)
    return _backfill_reply(job)


@router.get(
    "/sources/{source_id}/backfill",
    response_model=BackfillReply,
    summary="The latest backfill's progress, per resource",
)
async def backfill_progress(source_id: SourceId, caller: Reader, session: Session) -> BackfillReply:
    """The latest backfill of the source: its state and the pages, items and events fetched per
    resource."""
    caller.tenant(PER_TENANT)
    await service.source_or_404(session, source_id)
    job = await repository.latest_backfill(session, source_id)
    if job is None:
        raise NotFound(f"source {source_id} has not been backfilled")
    return _backfill_reply(job)


def _backfill_reply(job: BackfillRow) -> BackfillReply:
    resources = {
        name: BackfillResource(
            **{k: counts.get(k, 0) for k in ("pages", "items", "events")},
            done=job.checkpoint.get(name) == "",
        )
        for name, counts in job.progress.items()
    }
    return BackfillReply(
        id=job.id,
        status=job.status,
        since=job.since,
        resources=resources,
        error=job.error,
        started_at=job.started_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


@internal.put(
    "/source-suspension",
    response_model=SuspensionReply,
    summary="(the gateway's) Stop or resume the webhooks of a deleted or restored tenant "
    "or workspace; answers once every ingest replica holds it",
)
async def suspend_sources(body: SourceSuspension, caller: System, state: State) -> SuspensionReply:
    count = await service.suspend_sources(
        state, caller.tenant(PER_TENANT), body.workspace_id, body.suspended
    )
    return SuspensionReply(sources=count)


# Jira OAuth 2.0 ------------------------------------------------------------------------


@router.post(
    "/sources/{source_id}/oauth/jira/start",
    response_model=JiraOAuthStarted,
    summary="Connect a Jira source with OAuth 2.0: the consent URL to send the browser to",
    description="Starts Atlassian's authorization-code flow with PKCE for this source. The "
    "reply's URL carries a state bound to the tenant, the source and the admin, good once "
    "and for a few minutes (SEXTANT_INGEST_JIRA_OAUTH_STATE_SECONDS); Atlassian sends the "
    "browser back to `GET /v1/oauth/jira/callback`, which stores the tokens sealed.",
    responses={
        400: problem_response("the source is not a Jira source"),
        404: problem_response("no such source"),
        409: problem_response("Jira OAuth 2.0 is not configured on this deployment"),
        410: problem_response("the source's workspace or tenant was deleted"),
    },
)
async def start_jira_oauth(source_id: SourceId, caller: Admin, state: State) -> JiraOAuthStarted:
    started = await jira_oauth.start(state, caller.tenant(PER_TENANT), source_id, caller.sub)
    return JiraOAuthStarted(
        authorize_url=started.authorize_url, state_expires_at=started.expires_at
    )


@router.get(
    "/sources/{source_id}/oauth/jira",
    response_model=JiraOAuthStatus,
    summary="A Jira source's OAuth 2.0 connection: its site, its token's expiry, its status",
    responses={404: problem_response("no such source, or it is not connected with OAuth 2.0")},
)
async def jira_oauth_status(source_id: SourceId, caller: Reader, state: State) -> JiraOAuthStatus:
    """Whether the source's Atlassian grant is connected or needs reconnecting (access
    revoked), which site it reads, and when its token was refreshed and expires."""
    grant = await jira_oauth.grant_of(state, caller.tenant(PER_TENANT), source_id)
    return JiraOAuthStatus(
        status=grant.status,
        site_url=grant.site_url,
        cloud_id=grant.cloud_id,
        scopes=grant.scopes,
        expires_at=grant.expires_at,
        connected_by=grant.connected_by,
        connected_at=grant.connected_at,
        refreshed_at=grant.refreshed_at,
        error=grant.error,
    )


# Atlassian's redirect back, through the gateway: no bearer, the state authenticates it.
callbacks = APIRouter(prefix="/v1", tags=["oauth"])


@callbacks.get(
    "/oauth/jira/callback",
    response_model=JiraOAuthConnected,
    summary="Atlassian's redirect after consent: exchanges the code, stores the tokens",
    responses={
        400: problem_response("state or code missing, or a state this deployment never gave"),
        403: problem_response("consent declined, or the code refused (PKCE verifier, spent)"),
        404: problem_response("the source was deleted meanwhile"),
        409: problem_response("the state was used already, or several sites and none named"),
        410: problem_response("the state expired"),
        502: problem_response("Atlassian's token or resources endpoint failed"),
    },
)
async def jira_oauth_callback(
    state: State,
    code: Annotated[
        str | None, Query(max_length=2048, description="the authorization code")
    ] = None,
    state_token: Annotated[
        str | None,
        Query(alias="state", max_length=256, description="the state the start handed out"),
    ] = None,
    error: Annotated[
        str | None, Query(max_length=256, description="Atlassian's error, e.g. access_denied")
    ] = None,
    error_description: Annotated[
        str | None, Query(max_length=1024, description="Atlassian's words for the error")
    ] = None,
) -> JiraOAuthConnected:
    connected = await jira_oauth.finish(
        state, code=code, state_token=state_token, error=error, error_description=error_description
    )
    return JiraOAuthConnected(
        connected=True,
        source_id=connected.source_id,
        site_url=connected.site_url,
        cloud_id=connected.cloud_id,
        expires_at=connected.expires_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


# webhooks ------------------------------------------------------------------------------


@hooks.post(
    "/hooks/{source_id}",
    status_code=202,
    response_model=DeliveryReceipt,
    summary="Receive a webhook delivery, authenticated by the tool's signature",
    responses={
        200: {"model": DeliveryReceipt, "description": "a redelivery; nothing new stored"},
        400: {"description": "the body is not JSON, or a delivery id or event header is malformed"},
        401: {"description": "bad or missing signature"},
        404: {"description": "no such source"},
        410: {"description": "the source is disabled"},
        413: {"description": "over the body limit"},
        415: {"description": "not application/json"},
        429: {"description": "overloaded: retry after Retry-After seconds"},
        503: {
            "description": "the database is unavailable, or the source's secret is sealed "
            "with a key this replica is not configured with (`key_id`): nothing was stored"
        },
    },
)
async def receive(source_id: str, request: Request) -> Response:
    # No dependencies here: FastAPI's dependency solving costs more than this route's
    # own work at webhook rates, so the state is read from the request directly.
    state = service_state(request)
    ingest = service.ingest_of(state)
    try:
        source_uuid = UUID(source_id)
    except ValueError:
        raise NotFound(f"no source {source_id[:64]}") from None
    # One dict of the raw headers serves every lookup below and the signature check
    # (ASGI servers send names in lower case; lowered again for any that does not).
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in request.scope["headers"]
    }
    limit = ingest.settings.max_body_bytes
    declared = headers.get("content-length")
    # ASCII digits only (str.isdigit takes "²"), and no int() of a 5,000-digit number
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > limit)
    ):
        raise PayloadTooLarge(f"the body is over the {limit} byte limit")
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType(
            f"the body must be application/json, not {media_type or 'unspecified'}"
            " (for GitHub, set the hook's content type to application/json)"
        )
    if not ingest.in_flight.try_enter():
        raise TooManyRequests(
            "too many deliveries are being accepted; retry shortly", retry_after=1
        )
    try:
        body = await _read_capped(request, limit)
        accepted = await service.accept_delivery(state, source_uuid, headers, body)
    finally:
        ingest.in_flight.leave()
    # ``Accepted`` has DeliveryReceipt's fields (a test holds them equal), so orjson writes
    # the receipt from it directly, without building and validating a model per delivery.
    return Response(
        orjson.dumps(accepted),
        status_code=200 if accepted.duplicate else 202,
        media_type="application/json",
    )


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (a missing or false Content-Length
    must not let a sender stream an unbounded body into memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)

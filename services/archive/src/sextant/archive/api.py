"""Archive's HTTP routes (behind the gateway's internal token): the cold store's manifest
and its verification; retention policies; legal holds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from sextant.archive import coldstore, governance
from sextant.archive.db import coldstore as coldstore_db
from sextant.archive.db import holds as holds_db
from sextant.archive.db import replays as restores_db
from sextant.archive.domain.verify import first_finding
from sextant.archive.schemas import (
    LegalHold,
    LegalHoldPage,
    LegalHoldRelease,
    LegalHoldRequest,
    Manifest,
    ManifestPage,
    Restore,
    RestoreRequest,
    RetentionPolicies,
    RetentionUpdate,
    VerificationFinding,
    VerificationReport,
)
from sextant.contracts import uuid7
from sextant.runtime.app import Session, State
from sextant.runtime.errors import InvalidInput, NotFound, problem_response
from sextant.runtime.paging import Cursor, Limit, after_id, from_seq, next_cursor
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["archive"])

Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]

ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_response("the call names no tenant"),
    403: problem_response("the caller is not a tenant or platform admin"),
}
TOPIC_PATTERN = r"^[a-z][a-z0-9_.-]*$"


PER_TENANT = "the archive is per tenant"  # why a call needs a tenant, in its 400


@router.get(
    "/archive/manifests",
    response_model=ManifestPage,
    summary="The cold store's manifest: one entry per archived object",
    description="Entries in chain order (seq), each with its object's key, SHA-256, event "
    "count, first and last event ids and hash-chain links; filter by topic and UTC day. "
    "Page with next_cursor.",
    responses={
        **ADMIN_PROBLEMS,
        400: problem_response(
            "no tenant, a cursor this API did not give out, or since after until"
        ),
        422: problem_response("a parameter of the wrong type or out of range (named)"),
    },
)
async def list_manifests(
    caller: Admin,
    session: Session,
    topic: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=TOPIC_PATTERN,
            description="only this topic, e.g. sextant.activity",
        ),
    ] = None,
    since: Annotated[date | None, Query(description="only days on or after this UTC day")] = None,
    until: Annotated[date | None, Query(description="only days on or before this UTC day")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ManifestPage:
    tenant = caller.tenant(PER_TENANT)
    if since is not None and until is not None and since > until:
        raise InvalidInput("since must not be after until", parameter="since")
    rows = await coldstore_db.list_manifests(
        session,
        tenant,
        after_seq=from_seq(cursor),
        limit=limit,
        topic=topic,
        since=since,
        until=until,
    )
    return ManifestPage(
        items=[_manifest(r) for r in rows],
        next_cursor=next_cursor(rows, limit, lambda r: r.chained.entry.seq),
    )


def _manifest(row: coldstore_db.ManifestRow) -> Manifest:
    e = row.chained.entry
    return Manifest(
        id=e.manifest_id,
        seq=e.seq,
        topic=e.topic,
        day=e.day,
        part=row.part,
        object_key=e.object_key,
        event_count=e.event_count,
        first_event_id=e.first_event_id,
        last_event_id=e.last_event_id,
        first_at=e.first_at,
        last_at=e.last_at,
        sha256=e.sha256,
        size_bytes=e.size_bytes,
        schema_versions=list(e.schema_versions),
        workspace_ids=list(e.workspace_ids),
        prev_hash=row.chained.prev_hash,
        row_hash=row.chained.row_hash,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


@router.post(
    "/archive/verify",
    response_model=VerificationReport,
    summary="Verify the cold store: re-read every object and check the manifest chain",
    description="Each object must be present, match its entry's SHA-256, hold its entry's "
    "event count and first/last event ids; the chain must be unbroken up to its recorded "
    "head. Answers 200 with intact=false and the findings (earliest first) when not.",
    responses={
        **ADMIN_PROBLEMS,
        503: problem_response("the object store is not configured or not reachable"),
    },
)
async def verify_archive(caller: Admin, state: State) -> VerificationReport:
    report = await coldstore.verify_tenant(state, caller.tenant(PER_TENANT))
    first = first_finding(report.findings)
    return VerificationReport(
        intact=first is None,
        objects=report.objects,
        events=report.events,
        tombstones=report.tombstones,
        first_bad_object=None if first is None else first.object_key,
        findings=[
            VerificationFinding(seq=f.seq, object_key=f.object_key, reason=f.reason)
            for f in report.findings
        ],
    )


@router.post(
    "/archive/restores",
    response_model=Restore,
    status_code=202,
    summary="Restore archived events: publish them again, marked as replays",
    description="Every object covering the topics and [since, until) is verified first (a bad "
    "one fails the restore, naming it, before anything is published); then their events "
    "are published on their own topics with replayid set, so the services rebuild their "
    "projections. Answers 202 with the restore; follow Location for its progress. Audited.",
    responses={
        **ADMIN_PROBLEMS,
        422: problem_response("a topic that is not replayable, or until not after since (named)"),
    },
)
async def request_restore(
    caller: Admin, state: State, session: Session, request: RestoreRequest, response: Response
) -> Restore:
    actor = _actor(caller, state)
    restore = restores_db.Restore(
        id=uuid7(),
        tenant_id=actor.tenant,
        topics=list(request.topics),
        since=request.since,
        until=request.until,
        workspace_id=request.workspace_id,
        status="pending",
        objects_total=None,
        objects_done=0,
        events_published=0,
        after_seq=0,
        failure=None,
        requested_by=actor.name,
        created_at=datetime.now(UTC),
        finished_at=None,
    )
    await restores_db.create(session, restore)
    await governance.audit_restore(session, actor, restore.id, request)
    response.headers["Location"] = f"/v1/archive/restores/{restore.id}"
    return _restore_view(restore)


@router.get(
    "/archive/restores/{restore_id}",
    response_model=Restore,
    summary="A restore's progress",
    description="Its status (pending, running, done, failed), the objects it covers and "
    "has published, the events published, and why it failed.",
    responses={
        **ADMIN_PROBLEMS,
        404: problem_response("no such restore in the tenant"),
        422: problem_response("the id is not a UUID"),
    },
)
async def get_restore(
    caller: Admin,
    session: Session,
    restore_id: Annotated[UUID, Path(description="the restore's id, as requesting it gave it")],
) -> Restore:
    found = await restores_db.get(session, caller.tenant(PER_TENANT), restore_id)
    if found is None:
        raise NotFound("no such restore")
    return _restore_view(found)


def _restore_view(restore: restores_db.Restore) -> Restore:
    return Restore(
        id=restore.id,
        status=restore.status,
        topics=restore.topics,
        since=restore.since,
        until=restore.until,
        workspace_id=restore.workspace_id,
        objects_total=restore.objects_total,
        objects_done=restore.objects_done,
        events_published=restore.events_published,
        failure=restore.failure,
        requested_by=restore.requested_by,
        created_at=restore.created_at,
        finished_at=restore.finished_at,
    )


def _actor(caller: InternalClaims, state: State) -> governance.Actor:
    return governance.Actor(tenant=caller.tenant(PER_TENANT), name=caller.sub, outbox=state.outbox)


# retention policies -----------------------------------------------------------------------


@router.get(
    "/retention-policies",
    response_model=RetentionPolicies,
    summary="How long each class of the tenant's data is kept, hot and cold",
    description="Every data class with its hot period (rows in PostgreSQL) and cold period "
    "(the archived copy), both counted from the event; is_default while the tenant has not "
    "chosen its own. Daily rollups are kept hot and are no class here.",
    responses=ADMIN_PROBLEMS,
)
async def get_retention_policies(caller: Admin, session: Session) -> RetentionPolicies:
    return await governance.retention(session, caller.tenant(PER_TENANT))


@router.put(
    "/retention-policies",
    response_model=RetentionPolicies,
    summary="Change the retention of some data classes",
    description="Sets the named classes' periods (the others keep theirs) and answers every "
    "class. cold_days must be at least hot_days. Each change is audited.",
    responses={
        **ADMIN_PROBLEMS,
        422: problem_response(
            "an unknown class, a period out of range or cold_days below "
            "hot_days (the field is named)"
        ),
    },
)
async def put_retention_policies(
    caller: Admin, state: State, session: Session, update: RetentionUpdate
) -> RetentionPolicies:
    return await governance.change_retention(session, _actor(caller, state), update)


# legal holds ------------------------------------------------------------------------------


@router.post(
    "/legal-holds",
    response_model=LegalHold,
    status_code=201,
    summary="Place a legal hold",
    description="Stops every purge, hot or cold, of the data it covers: the whole tenant, "
    "a workspace or a developer, optionally only events in [starts_at, ends_at). Audited "
    "and announced (LegalHoldChanged).",
    responses={
        **ADMIN_PROBLEMS,
        422: problem_response("a bad scope, reason or time range (the field is named)"),
    },
)
async def place_legal_hold(
    caller: Admin, state: State, session: Session, request: LegalHoldRequest
) -> LegalHold:
    return await governance.place_hold(session, _actor(caller, state), request)


@router.get(
    "/legal-holds",
    response_model=LegalHoldPage,
    summary="The tenant's legal holds, oldest first",
    description="Active and released ones unless active= says which; page with next_cursor.",
    responses={
        **ADMIN_PROBLEMS,
        400: problem_response("no tenant, or a cursor this API did not give out"),
        422: problem_response("a parameter of the wrong type or out of range (named)"),
    },
)
async def list_legal_holds(
    caller: Admin,
    session: Session,
    active: Annotated[
        bool | None, Query(description="true: only holds in force; false: only released ones")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> LegalHoldPage:
    rows = await holds_db.list_holds(
        session, caller.tenant(PER_TENANT), active=active, after=after_id(cursor), limit=limit
    )
    return LegalHoldPage(
        items=[governance.hold_view(h) for h in rows],
        next_cursor=next_cursor(rows, limit, lambda h: h.id),
    )


@router.post(
    "/legal-holds/{hold_id}/release",
    response_model=LegalHold,
    summary="Release a legal hold",
    description="Purges it stopped may go ahead again. Audited and announced.",
    responses={
        **ADMIN_PROBLEMS,
        404: problem_response("no such hold in the tenant"),
        409: problem_response("the hold was already released"),
        422: problem_response("the id is not a UUID, or a bad reason"),
    },
)
async def release_legal_hold(
    caller: Admin,
    state: State,
    session: Session,
    hold_id: Annotated[UUID, Path(description="the hold's id, as placing or listing gave it")],
    release: Annotated[LegalHoldRelease | None, Body(description="why, for the record")] = None,
) -> LegalHold:
    return await governance.release_hold(
        session, _actor(caller, state), hold_id, release or LegalHoldRelease()
    )

"""Archive's HTTP routes (behind the gateway's internal token): the cold store's manifest
and its verification; retention policies; legal holds."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from sextant.archive import coldstore
from sextant.archive.db import coldstore as coldstore_db
from sextant.archive.schemas import (
    Manifest,
    ManifestPage,
    VerificationFinding,
    VerificationReport,
)
from sextant.runtime.app import Session, State
from sextant.runtime.errors import InvalidInput, problem_response
from sextant.runtime.paging import Cursor, Limit, from_seq, next_cursor
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["archive"])

Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "platform_admin"))]

ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_response("the call names no tenant"),
    403: problem_response("the caller is not a tenant or platform admin"),
}
TOPIC_PATTERN = r"^[a-z][a-z0-9_.-]*$"


def _tenant(caller: InternalClaims) -> UUID:
    if caller.tid is None:
        raise InvalidInput("the archive is per tenant; the call names none")
    return caller.tid


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
    tenant = _tenant(caller)
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
        prev_hash=row.chained.prev_hash,
        row_hash=row.chained.row_hash,
        created_at=row.created_at,
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
    report = await coldstore.verify_tenant(state, _tenant(caller))
    first = report.findings[0] if report.findings else None
    return VerificationReport(
        intact=first is None,
        objects=report.objects,
        events=report.events,
        first_bad_object=None if first is None else first.object_key,
        findings=[
            VerificationFinding(seq=f.seq, object_key=f.object_key, reason=f.reason)
            for f in report.findings
        ],
    )

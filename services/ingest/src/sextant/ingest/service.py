"""Ingest's use cases: connect a source, accept a webhook delivery. Routes parse and
reply; this module decides; :mod:`sextant.ingest.db.repository` stores."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import uuid7
from sextant.contracts.events.common import SourceKind
from sextant.ingest import signatures
from sextant.ingest.atlassian import StoredBearer
from sextant.ingest.backfill import jira, runner
from sextant.ingest.backfill.api import ApiError
from sextant.ingest.db import repository
from sextant.ingest.db.repository import BackfillRow, SourceRow
from sextant.ingest.mapping import MappingRules
from sextant.ingest.normalize import Context, pruned
from sextant.ingest.reading import as_revision, commit_list_ask, read_delivery
from sextant.ingest.sealing import secret_box
from sextant.ingest.settings import IngestSettings
from sextant.ingest.signature_failures import SignatureFailures
from sextant.ingest.writer import DeliveryWriter, PendingDelivery
from sextant.runtime.app import ServiceState
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.db import plain_dsn, set_tenant
from sextant.runtime.egress import egress_policy
from sextant.runtime.errors import (
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from sextant.runtime.outbox import Outbox
from sextant.runtime.pgnotify import Invalidations, Listener, notify
from sextant.runtime.sealing import KeyMissing, SecretBox

log = structlog.get_logger()


class InFlight:
    """Deliveries being accepted right now; past the limit the endpoint answers 429
    rather than queueing without bound (no await between check and count: no race)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.current = limit, 0

    def try_enter(self) -> bool:
        if self.current >= self.limit:
            return False
        self.current += 1
        return True

    def leave(self) -> None:
        self.current -= 1


@dataclass(frozen=True)
class KnownSource:
    row: SourceRow
    secret: str
    rules: MappingRules
    expires_at: float


class SourceCache:
    """Sources by id for the webhook path, kept a few seconds: the lookup and the secret's
    decryption would otherwise cost more than storing the delivery. A change to a source's
    state (disabled, deleted, suspended with its workspace or tenant) drops its entry on
    every replica as it commits (:data:`SOURCES_CHANNEL`); while this replica cannot hear
    those messages (``trusted`` False) no entry is believed. ``ttl`` is the last line.

    Ids with no source are remembered as long, so a sender probing made-up ids gets its
    404s without a database transaction each (a new source's id is new everywhere: no
    id is remembered missing before its source exists)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.trusted: Callable[[], bool] = lambda: True
        self.epoch = 0  # advanced by every drop: a lookup begun before one is not kept
        self._entries: dict[UUID, KnownSource] = {}
        self._missing: dict[UUID, float] = {}  # id -> until when it is known to be missing
        self.lookups = 0  # database lookups made, for tests and curiosity
        # One lookup per source at a time: when an entry expires under load, every
        # delivery in flight would otherwise run its own (measured: as many lookup
        # transactions as commits at 32 concurrent deliveries).
        self.loading: dict[UUID, asyncio.Task[KnownSource]] = {}

    def get(self, source_id: UUID) -> KnownSource | None:
        known = self._entries.get(source_id)
        if known is None or known.expires_at < time.monotonic() or not self.trusted():
            return None
        return known

    def put(self, row: SourceRow, secret: str, *, epoch: int | None = None) -> KnownSource:
        """The source as the webhook path needs it; kept unless a drop came since the
        lookup began (``epoch``) or this replica trusts no cache now."""
        rules = MappingRules.model_validate(row.mapping)
        known = KnownSource(row, secret, rules, time.monotonic() + self.ttl)
        if self.trusted() and (epoch is None or epoch == self.epoch):
            if len(self._entries) > 10_000:  # bound memory; a refill costs one lookup each
                self._entries.clear()
            self._entries[row.id] = known
        return known

    def drop(self, source_id: UUID) -> None:
        self.drop_where(lambda row: row.id == source_id)

    def drop_where(self, changed: Callable[[SourceRow], bool]) -> None:
        """Drop the sources ``changed`` matches, and forget lookups under way (a delivery
        that comes now must read the change, not wait for a read from before it)."""
        self.epoch += 1
        for source_id in [i for i, known in self._entries.items() if changed(known.row)]:
            del self._entries[source_id]
        self.loading.clear()

    def clear(self) -> None:
        self.drop_where(lambda _row: True)

    def loaded(self, source_id: UUID, task: asyncio.Task[KnownSource]) -> None:
        if self.loading.get(source_id) is task:
            del self.loading[source_id]

    def is_missing(self, source_id: UUID) -> bool:
        until = self._missing.get(source_id)
        return until is not None and until >= time.monotonic()

    def put_missing(self, source_id: UUID) -> None:
        if len(self._missing) > 10_000:  # bound memory; a refill costs one lookup each
            self._missing.clear()
        self._missing[source_id] = time.monotonic() + self.ttl


# A source's state changed (disabled, deleted, suspended or resumed): every replica drops
# what it cached of it (see SourceCache) as the change commits.
SOURCES_CHANNEL = "sextant_ingest_sources"


def source_change(
    tenant_id: UUID, *, workspace_id: UUID | None = None, source_id: UUID | None = None
) -> str:
    """The message for a change to one source, one workspace's or a whole tenant's; unique
    (a nonce), so its acknowledgements are its own."""
    return json.dumps(
        {
            "tenant": str(tenant_id),
            "workspace": str(workspace_id) if workspace_id else None,
            "source": str(source_id) if source_id else None,
            "nonce": str(uuid7()),
        }
    )


def _forget_changed(sources: SourceCache, payload: str) -> None:
    change = json.loads(payload)
    tenant = UUID(change["tenant"])
    workspace = UUID(change["workspace"]) if change.get("workspace") else None
    source = UUID(change["source"]) if change.get("source") else None
    sources.drop_where(
        lambda row: (
            row.tenant_id == tenant
            and (workspace is None or row.workspace_id == workspace)
            and (source is None or row.id == source)
        )
    )


@dataclass(frozen=True)
class Ingest:
    """What the routes need beyond the runtime's state: settings, the secret box, the
    in-flight limiter, the source cache and what keeps it true, the group-commit writer,
    the signature-failure counter, the backfills, and the listener the queue workers
    (queue_worker.py) share: one connection for all their channels."""

    settings: IngestSettings
    box: SecretBox
    in_flight: InFlight
    sources: SourceCache
    source_changes: Invalidations
    writer: DeliveryWriter
    signature_failures: SignatureFailures
    backfills: runner.Backfills
    listener: Listener


def ingest_of(state: ServiceState) -> Ingest:
    ingest: Ingest = state.extras["ingest"]
    return ingest


async def start(state: ServiceState) -> None:
    settings = IngestSettings()
    box = secret_box(settings, state.settings.data_dir, shared=state.settings.bus == "kafka")
    sources = SourceCache(settings.source_cache_seconds)
    source_changes = Invalidations(
        plain_dsn(state.db.app_url),
        SOURCES_CHANNEL,
        on_message=lambda payload: _forget_changed(sources, payload),
        on_reset=sources.clear,
    )
    sources.trusted = lambda: source_changes.trusted
    state.extras["ingest"] = Ingest(
        settings,
        box,
        InFlight(settings.max_in_flight),
        sources,
        source_changes,
        DeliveryWriter(state.db),
        SignatureFailures(state),
        runner.Backfills(egress_policy(state.settings)),
        Listener(plain_dsn(state.db.app_url)),
    )
    await source_changes.start()
    await ingest_of(state).listener.start()


async def stop(state: ServiceState) -> None:
    await ingest_of(state).listener.stop()
    await ingest_of(state).source_changes.stop()
    await ingest_of(state).backfills.stop()
    await ingest_of(state).writer.stop()
    await ingest_of(state).signature_failures.stop()


# sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSource:
    row: SourceRow
    secret: str


async def create_source(
    session: AsyncSession,
    outbox: Outbox,
    box: SecretBox,
    *,
    tenant_id: UUID,
    workspace_id: UUID,
    kind: SourceKind,
    name: str,
    secret: str | None,
    credentials: dict[str, Any] | None,
    mapping: MappingRules,
    actor: str,
) -> CreatedSource:
    if secret is not None:
        try:
            signatures.check_secret_format(kind, secret)
        except ValueError as exc:
            raise InvalidInput(f"secret: {exc}") from None
    secret = secret or signatures.new_secret(kind)
    source_id = uuid7()
    row = SourceRow(
        id=source_id,
        tenant_id=tenant_id,
        workspace_id=workspace_id,
        kind=kind,
        name=name,
        secret_sealed=box.seal(secret, source_id),
        credentials_sealed=box.seal(json.dumps(credentials), source_id) if credentials else None,
        mapping=mapping.model_dump(),
        signature_failures=0,
        created_at=datetime.now(UTC),
        disabled_at=None,
        deleted_at=None,
    )
    await repository.add_source(session, row)
    await audit_source(outbox, session, row, actor, "source.create", None, describe(row))
    return CreatedSource(row, secret)


def describe(row: SourceRow) -> dict[str, Any]:
    """What the audit log and the API may show of a source: never its secrets."""
    return {
        "id": str(row.id),
        "workspace_id": str(row.workspace_id),
        "kind": row.kind,
        "name": row.name,
        "mapping": row.mapping,
        "has_credentials": row.credentials_sealed is not None,
        "disabled": row.disabled_at is not None,
        "deleted": row.deleted_at is not None,
    }


async def source_or_404(session: AsyncSession, source_id: UUID) -> SourceRow:
    row = await repository.get_source(session, source_id)
    if row is None:
        raise NotFound(f"no source {source_id}")
    return row


async def change_source(
    session: AsyncSession,
    outbox: Outbox,
    source_id: UUID,
    *,
    actor: str,
    action: str,
    **values: Any,
) -> SourceRow:
    before = await source_or_404(session, source_id)
    await repository.update_source(session, source_id, **values)
    after = await repository.get_source(session, source_id, include_deleted=True)
    assert after is not None
    await notify(session, SOURCES_CHANNEL, source_change(after.tenant_id, source_id=source_id))
    await audit_source(outbox, session, after, actor, action, describe(before), describe(after))
    return after


async def audit_source(
    outbox: Outbox,
    session: AsyncSession,
    row: SourceRow,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    change = config_change(actor, action, ("source", row.id), before=before, after=after)
    await record_change(session, outbox, row.tenant_id, change, row.workspace_id)


async def suspend_sources(
    state: ServiceState, tenant_id: UUID, workspace_id: UUID | None, suspended: bool
) -> int:
    """Suspend (or resume) a tenant's sources, or one workspace's, and return only once
    every ingest replica has dropped what it cached of them: a webhook that comes after
    this returns reads the new state (410 while suspended). How many sources changed."""
    ingest = ingest_of(state)
    wait = ingest.settings.source_change_wait_seconds
    async with ingest.source_changes.announcing(state.db, tenant_id, wait=wait) as change:
        at = datetime.now(UTC) if suspended else None
        count = await repository.suspend_sources(change.session, workspace_id, at)
        await change.send(source_change(tenant_id, workspace_id=workspace_id))
    log.info(
        "sources.suspended" if suspended else "sources.resumed",
        tenant_id=str(tenant_id),
        workspace_id=str(workspace_id) if workspace_id else None,
        sources=count,
    )
    return count


# deliveries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    delivery_id: str
    duplicate: bool
    outcome: str  # normalized | ignored | failed
    events: int
    reason: str | None


async def accept_delivery(
    state: ServiceState, source_id: UUID, headers: dict[str, str], body: bytes
) -> Accepted:
    """Authenticate, parse, normalize and store one delivery with its events, in one
    transaction that commits before the caller answers 2xx."""
    ingest = ingest_of(state)
    known = await _known_source(state, source_id)
    source = known.row
    if source.disabled_at is not None:
        raise Gone(f"source {source_id} is disabled")
    if source.suspended_at is not None:
        raise Gone(f"source {source_id} belongs to a deleted workspace or tenant")
    try:
        delivery = signatures.verify(
            source.kind,  # type: ignore[arg-type]
            known.secret,
            headers,
            body,
            now=time.time(),
            replay_window=ingest.settings.replay_window_seconds,
        )
    except signatures.SignatureRejected as exc:
        ingest.signature_failures.note(source)
        raise Unauthenticated(str(exc)) from None
    except signatures.InvalidHeader as exc:
        raise InvalidInput(str(exc)) from None
    ctx = Context(source.id, known.rules, lists_commits(source))
    return await _store(state, source, ctx, delivery, body)


LISTS_COMMITS = ("github", "gitlab")


def lists_commits(source: SourceRow) -> bool:
    """Whether a merge this source's webhook brings has its commits listed through the
    tool's API (sextant.ingest.commits): a GitHub or GitLab source with credentials."""
    return source.kind in LISTS_COMMITS and source.credentials_sealed is not None


async def _known_source(state: ServiceState, source_id: UUID) -> KnownSource:
    """The source and its opened secret: from the cache, else from the database (as the
    tenant its hook route names)."""
    ingest = ingest_of(state)
    known = ingest.sources.get(source_id)
    if known is not None:
        return known
    if ingest.sources.is_missing(source_id):
        raise NotFound(f"no source {source_id}")
    loading = ingest.sources.loading.get(source_id)
    if loading is None:
        # A task of its own, so a waiter that goes away does not cancel the others' lookup.
        loading = asyncio.create_task(_load_source(state, source_id))
        ingest.sources.loading[source_id] = loading
        loading.add_done_callback(lambda task: ingest.sources.loaded(source_id, task))
    return await asyncio.shield(loading)


async def _load_source(state: ServiceState, source_id: UUID) -> KnownSource:
    ingest = ingest_of(state)
    ingest.sources.lookups += 1
    epoch = ingest.sources.epoch
    async with state.db.transaction() as session:
        source = None
        if (tenant_id := await repository.tenant_of(session, source_id)) is not None:
            await set_tenant(session, tenant_id)
            source = await repository.get_source(session, source_id)
    if source is None:
        ingest.sources.put_missing(source_id)
        raise NotFound(f"no source {source_id}")
    secret = open_sealed(ingest.box, source.secret_sealed, source)
    return ingest.sources.put(source, secret, epoch=epoch)


def open_sealed(box: SecretBox, sealed: bytes, source: SourceRow) -> str:
    """A source's sealed secret or credentials, opened. One sealed with a key this replica
    is not configured with is the operator's to fix, not the caller's: a 503 naming the key
    (a webhook sender retries it once the key is back), and an error in the log."""
    try:
        return box.open(sealed, source.id)
    except KeyMissing as exc:
        log.error("ingest.sealed_key_missing", source_id=str(source.id), key_id=exc.key_id)
        raise Unavailable(
            f"source {source.id}'s secrets are sealed with key {exc.key_id!r}, which this "
            "ingest replica is not configured with (SEXTANT_INGEST_SECRET_KEYS)",
            key_id=exc.key_id,
        ) from None


async def _store(
    state: ServiceState,
    source: SourceRow,
    ctx: Context,
    delivery: signatures.Delivery,
    body: bytes,
) -> Accepted:
    """Parse and normalize (here, in the request), then hand the rows to the group-commit
    writer and wait for the commit."""
    try:
        payload = pruned.parse(source.kind, delivery.event, body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    read = read_delivery(state.outbox, source, ctx, delivery.delivery_id, delivery.event, payload)
    row = repository.NewDelivery(
        id=uuid7(),
        source_id=source.id,
        delivery_id=delivery.delivery_id,
        event=delivery.event or _named_event(payload),
        received_at=datetime.now(UTC),
        body=body,
        outcome=read.outcome,
        reason=read.reason,
        event_count=read.facts,
        meaning=read.meaning,
    )
    # The parsed payload (some 150 KB of objects for 28 KB of JSON) is not needed while
    # the commit is awaited; freed now, dozens in flight do not crowd the CPU's caches.
    del payload
    pending = PendingDelivery(source.tenant_id, row, read.rows, commit_list_ask(source, read))
    stored = await ingest_of(state).writer.write(pending)
    if not stored:
        return Accepted(delivery.delivery_id, True, "duplicate", 0, None)
    return Accepted(delivery.delivery_id, False, read.outcome, read.facts, read.reason)


def _named_event(payload: Any) -> str | None:
    """The event a body names for itself (Jira's ``webhookEvent``), kept when it reads as
    an event name: it is stored as text, and any other value is the payload's problem,
    which its normalizer reports."""
    named = payload.get("webhookEvent") if isinstance(payload, dict) else None
    return named if isinstance(named, str) and signatures.is_event_name(named) else None


# replay --------------------------------------------------------------------------------

REPLAY_PAGE = 200
# Deliveries read between two yields to the event loop, which also accepts webhooks.
REPLAY_SLICE = 20


@dataclass(frozen=True)
class Replayed:
    deliveries: int
    outcomes: dict[str, int]
    events: int
    revised: int
    unchanged: int
    complete: bool
    resume_after: UUID | None


async def replay(
    session: AsyncSession,
    outbox: Outbox,
    source: SourceRow,
    since: datetime,
    until: datetime,
    *,
    after: UUID | None,
    limit: int,
) -> Replayed:
    """Re-normalize stored deliveries with the source's current mapping rules.

    Each delivery's facts are compared with what they meant when last read (their ids
    and mapping-decided values, ``Read.meaning``):
    - unchanged: nothing is published (downstream already has them);
    - a delivery that had no facts (it failed or was ignored before a fix) publishes
      them under their own ids, which a webhook or backfill copy converges with;
    - facts that now say something else (an issue type now mapped to incident, an
      environment now production) are published again as a revision: the same events
      under new ids (:func:`reading.as_revision`), which downstream inboxes take as news
      and projections apply over what the facts had said. Each call is its own
      revision, so changing a mapping back and replaying again is news as well.

    Up to ``limit`` deliveries per call; ``resume_after`` continues a larger range."""
    ctx = Context(source.id, MappingRules.model_validate(source.mapping), lists_commits(source))
    revision = uuid7()
    outcomes: dict[str, int] = {"normalized": 0, "ignored": 0, "failed": 0}
    done = events = revised = unchanged = 0
    last: UUID | None = after
    while done < limit:
        page = await repository.deliveries_between(
            session, source.id, since, until, last, min(REPLAY_PAGE, limit - done)
        )
        if not page:
            return Replayed(done, outcomes, events, revised, unchanged, True, None)
        for n, stored in enumerate(page):
            if n and n % REPLAY_SLICE == 0:
                await asyncio.sleep(0)
            try:
                payload = pruned.parse(source.kind, stored.event, stored.body)
            except orjson.JSONDecodeError:
                payload = None  # _read reports it as unreadable
            read = read_delivery(outbox, source, ctx, stored.delivery_id, stored.event, payload)
            await repository.record_outcome(
                session, stored.id, read.outcome, read.reason, read.facts, read.meaning
            )
            if read.meaning is not None and read.meaning == stored.meaning:
                unchanged += 1
                staged = []
            elif stored.meaning is not None and read.facts:
                revised += 1
                staged = as_revision(read, revision)
            else:
                staged = read.events
            await outbox.add_all(session, staged)
            outcomes[read.outcome] += 1
            events += len(staged)
        done += len(page)
        last = page[-1].id
    more = await repository.deliveries_between(session, source.id, since, until, last, 1)
    return Replayed(done, outcomes, events, revised, unchanged, not more, last if more else None)


# backfill ------------------------------------------------------------------------------


async def start_backfill(
    state: ServiceState, tenant_id: UUID, source_id: UUID, since: datetime
) -> BackfillRow:
    """Start (or resume, when the last one for the same start date stopped) a backfill.

    The job row commits before the task starts, so every page the task saves lands on a
    row that exists."""
    ingest = ingest_of(state)
    auth: httpx.Auth | None = None
    async with state.db.transaction(tenant_id) as session:
        source = await source_or_404(session, source_id)
        credentials = (
            json.loads(open_sealed(ingest.box, source.credentials_sealed, source))
            if source.credentials_sealed
            else None
        )
        grant = await repository.get_oauth_grant(session, source.id)
        if grant is not None and source.kind == "jira":
            if grant.status != "connected":
                raise Conflict(
                    f"source {source_id}'s Jira OAuth connection needs reconnecting "
                    f"({grant.error}); start it again with POST "
                    f"/v1/sources/{source_id}/oauth/jira/start"
                )
            api_url = ingest.settings.jira_oauth_api_url
            credentials = jira.with_grant(credentials or {}, api_url, grant.cloud_id)
            auth = StoredBearer(lambda: current_access_token(state, source))
        try:
            runner.check_credentials(source.kind, credentials)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        if source.suspended_at is not None:
            raise Gone(f"source {source_id} belongs to a deleted workspace or tenant")
        if ingest.backfills.running(source.id):
            raise Conflict(f"a backfill of source {source_id} is already running")
        latest = await repository.latest_backfill(session, source.id)
        now = datetime.now(UTC)
        if latest is not None and latest.status != "succeeded" and latest.since == since:
            job = replace(latest, status="running", error=None, updated_at=now, finished_at=None)
            await repository.save_backfill(
                session, job.id, status="running", error=None, updated_at=now, finished_at=None
            )
        else:
            job = BackfillRow(
                id=uuid7(),
                tenant_id=tenant_id,
                source_id=source.id,
                since=since,
                status="running",
                checkpoint={},
                progress={},
                error=None,
                started_at=now,
                updated_at=now,
                finished_at=None,
            )
            await repository.add_backfill(session, job)
    assert credentials is not None
    ingest.backfills.start(state, source, job, credentials, auth)
    return job


async def current_access_token(state: ServiceState, source: SourceRow) -> tuple[str, float]:
    """The source's OAuth access token as the refresher last stored it, and when it
    expires (epoch seconds); an ApiError, which fails the backfill, once it is revoked."""
    async with state.db.transaction(source.tenant_id) as session:
        grant = await repository.get_oauth_grant(session, source.id)
    if grant is None or grant.status != "connected":
        raise ApiError("the Jira OAuth connection was revoked or removed: connect it again")
    tokens = json.loads(open_sealed(ingest_of(state).box, grant.tokens_sealed, source))
    return str(tokens["access_token"]), grant.expires_at.timestamp()

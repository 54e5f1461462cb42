"""After a tenant's or workspace's purge its events still queued are claimed, never handled
(but the purge requests: a redelivered purge answers; and in a workspace configuration
changes, for the tenant's audit chain), and the purge's lock orders it with handlers in
flight: one that started first commits and its rows go too; one that comes while the purge
runs waits and then sees the tombstone. A workspace's purge leaves its tenant's other
workspaces, and the events naming none, handled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.events.platform import ConfigChanged
from sextant.runtime.bus.base import IncomingRecord
from sextant.runtime.bus.local import LocalBus
from sextant.runtime.consumer import Batched, EventProcessor, Handler
from sextant.runtime.db import Database, plain_dsn
from sextant.runtime.metrics import ServiceMetrics, create_metrics
from sextant.runtime.outbox import Outbox, record_for
from sextant.runtime.purge import Purger, PurgeTable
from sextant.runtime.testing import busworker
from sextant.runtime.testing.purging import scope_purge
from sextant.runtime.tombstones import PURGE_REQUESTED

TENANT = busworker.TENANT
OTHER_TENANT = uuid.UUID("00000000-0000-7000-8000-0000000000b4")
WORKSPACE = uuid.UUID("00000000-0000-7000-8000-0000000000d1")
OTHER_WORKSPACE = uuid.UUID("00000000-0000-7000-8000-0000000000d2")
PLAIN, BATCHED, UNCLAIMED = "tombstone.plain", "tombstone.batched", "tombstone.unclaimed"

tables = sa.MetaData(schema=busworker.SCHEMA)
notes = sa.Table(
    "tombstone_notes",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid),
)
PURGER = Purger(
    "conformance",
    Outbox(busworker.spine.outbox, source="/sextant/conformance"),
    [PurgeTable(notes, None, workspace_column="workspace_id")],
)


def event(seq: int, tenant: uuid.UUID, workspace: uuid.UUID | None = None) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        source="/sextant/test",
        type=busworker.EVENT_TYPE,
        subject="one-key",
        tenantid=tenant,
        workspaceid=workspace,
        data={"seq": seq},
    )


def config_change(workspace: uuid.UUID) -> Envelope:
    """A change of one of the workspace's sources, bound for the tenant's audit chain."""
    change = ConfigChanged(actor="u", action="source.update", target_type="source", target_id="s")
    return Envelope.wrap(
        change, source="/sextant/ingest", tenantid=TENANT, workspaceid=workspace, subject="s"
    )


def purge_request(tenant: uuid.UUID = TENANT, workspace: uuid.UUID | None = None) -> Envelope:
    return scope_purge(tenant, workspace)


def incoming(envelope: Envelope, topic: str = PLAIN) -> IncomingRecord:
    out = record_for(envelope, topic, "one-key")
    return IncomingRecord(topic, 0, 0, out.key, out.headers, out.value)


class Notes:
    """A handler writing a note per event (the rows a purge must not see come back)."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, session: AsyncSession, envelope: Envelope) -> None:
        if envelope.type == PURGE_REQUESTED:
            await PURGER(session, envelope)
            return
        await self.many(session, [envelope])

    async def many(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        self.seen.extend(envelopes)
        rows = [
            {"tenant_id": e.tenantid, "event_id": e.id, "workspace_id": e.workspaceid}
            for e in envelopes
        ]
        await session.execute(sa.insert(notes), rows)
        self.entered.set()
        await self.release.wait()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await busworker.started_with(database_url, tables)
    yield database
    await database.stop()


GROUP = "tombstone"


def processor(
    db: Database,
    database_url: str,
    handlers: dict[str, Handler],
    metrics: ServiceMetrics | None = None,
) -> EventProcessor:
    """A consumer fed records by hand (its bus is never started: nothing is dead-lettered)."""
    dsn = plain_dsn(database_url)
    return EventProcessor(
        bus=LocalBus(dsn, partitions=1),
        db=db,
        inbox=busworker.spine.inbox,
        group=GROUP,
        handlers=handlers,
        metrics=metrics,
    )


async def purge(
    db: Database, tenant: uuid.UUID = TENANT, workspace: uuid.UUID | None = None
) -> None:
    async with db.transaction(tenant) as session:
        await PURGER(session, purge_request(tenant, workspace))


async def note_count(db: Database, tenant: uuid.UUID, workspace: uuid.UUID | None = None) -> int:
    """The tenant's notes, or those of one of its workspaces."""
    query = sa.select(sa.func.count()).select_from(notes).where(notes.c.tenant_id == tenant)
    if workspace is not None:
        query = query.where(notes.c.workspace_id == workspace)
    async with db.transaction(tenant) as session:
        return int((await session.execute(query)).scalar_one())


async def answers_to(db: Database, request: Envelope) -> int:
    """The purge's answers to ``request`` in the outbox."""
    async with db.transaction(request.tenantid) as session:
        answers = sa.select(sa.func.count()).select_from(busworker.spine.outbox)
        answered = sa.text("envelope->'data'->>'request_id' = :r")
        return int(
            (await session.execute(answers.where(answered), {"r": str(request.id)})).scalar()
        )


async def claimed(db: Database, envelopes: Sequence[Envelope]) -> int:
    inbox = busworker.spine.inbox
    async with db.transaction() as session:
        query = sa.select(sa.func.count()).where(
            inbox.c.consumer_group == GROUP, inbox.c.event_id.in_([e.inbox_id for e in envelopes])
        )
        return int((await session.execute(query)).scalar_one())


async def lock_waited_or(db: Database, done: asyncio.Task[None]) -> None:
    """Until a transaction waits on an advisory lock, or ``done`` finished without one."""
    async with db.engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        async with asyncio.timeout(10):
            while not done.done() and not (await connection.execute(query)).scalar():
                await asyncio.sleep(0.01)


async def test_a_purged_tenants_events_are_claimed_not_handled_but_its_purge_requests(
    db: Database, database_url: str
) -> None:
    await purge(db)
    handler, metrics = Notes(), create_metrics("conformance")
    handlers: dict[str, Handler] = {PLAIN: handler, BATCHED: Batched(handler.many)}
    consumer = processor(db, database_url, handlers, metrics)
    gone = [event(0, TENANT), event(1, TENANT), event(2, TENANT)]
    kept = [event(3, OTHER_TENANT), event(4, OTHER_TENANT)]
    again = purge_request()  # a redelivered purge: answered again
    await consumer.process(incoming(gone[0]))
    await consumer.process(incoming(kept[0]))
    await consumer.process(incoming(again))
    # a run of two of the purged tenant (one transaction: the batched path), then another's
    await consumer._process_partition([incoming(e, BATCHED) for e in (*gone[1:], kept[1])])
    assert [e.id for e in handler.seen] == [kept[0].id, kept[1].id]
    assert await note_count(db, TENANT) == 0
    assert await note_count(db, OTHER_TENANT) == 2
    assert await claimed(db, [*gone, *kept, again]) == 6
    assert await answers_to(db, again) == 1
    count = metrics.registry.get_sample_value
    handled = "sextant_events_handled_total"
    assert count(handled, {"topic": BATCHED, "outcome": "tenant_purged"}) == 2
    assert count(handled, {"topic": PLAIN, "outcome": "tenant_purged"}) == 1
    assert count(handled, {"topic": PLAIN, "outcome": "ok"}) == 2  # the other's and the purge


async def test_a_purged_workspaces_events_are_claimed_not_handled_but_its_tenants_others(
    db: Database, database_url: str
) -> None:
    await purge(db, TENANT, WORKSPACE)
    handler, metrics = Notes(), create_metrics("conformance")
    handlers: dict[str, Handler] = {
        PLAIN: handler,
        BATCHED: Batched(handler.many),
        UNCLAIMED: Batched(handler.many, claims_inbox=False),
    }
    consumer = processor(db, database_url, handlers, metrics)
    gone = [event(n, TENANT, WORKSPACE) for n in range(4)]
    others = [event(n, TENANT, OTHER_WORKSPACE) for n in (4, 5)]
    tenants = [event(n, TENANT) for n in (6, 7, 8)]  # naming no workspace: the tenant's
    change = config_change(WORKSPACE)
    again = purge_request(TENANT, WORKSPACE)  # redelivered (then a change: its note stays)
    for one in (gone[0], others[0], tenants[0], again, change):
        await consumer.process(incoming(one))
    # runs of one tenant (one transaction each), their workspaces mixed: the inbox's claim,
    # then a handler's that claims none
    batched = (gone[1], others[1], gone[2], tenants[1])
    await consumer._process_partition([incoming(e, BATCHED) for e in batched])
    await consumer._process_partition([incoming(e, UNCLAIMED) for e in (gone[3], tenants[2])])
    handled = [others[0], tenants[0], change, others[1], tenants[1], tenants[2]]
    assert [e.id for e in handler.seen] == [e.id for e in handled]
    assert await note_count(db, TENANT, WORKSPACE) == 1  # the configuration change's
    assert await note_count(db, TENANT, OTHER_WORKSPACE) == 2
    assert await note_count(db, TENANT) == 6
    assert await claimed(db, [*gone, *others, *tenants, change, again]) == 9  # 2 unclaimed
    assert await answers_to(db, again) == 1
    count = metrics.registry.get_sample_value
    total = "sextant_events_handled_total"
    assert count(total, {"topic": PLAIN, "outcome": "workspace_purged"}) == 1
    assert count(total, {"topic": PLAIN, "outcome": "ok"}) == 4
    assert count(total, {"topic": BATCHED, "outcome": "workspace_purged"}) == 2
    assert count(total, {"topic": BATCHED, "outcome": "ok"}) == 2
    assert count(total, {"topic": UNCLAIMED, "outcome": "workspace_purged"}) == 1
    assert count(total, {"topic": UNCLAIMED, "outcome": "ok"}) == 1


SCOPES = pytest.mark.parametrize("workspace", [None, WORKSPACE], ids=["tenant", "workspace"])


@SCOPES
async def test_a_handler_in_flight_commits_first_and_the_waiting_purge_deletes_its_rows(
    db: Database, database_url: str, workspace: uuid.UUID | None
) -> None:
    handler = Notes()
    handler.release.clear()
    consumer = processor(db, database_url, {PLAIN: handler})
    handling = asyncio.create_task(consumer.process(incoming(event(0, TENANT, WORKSPACE))))
    await handler.entered.wait()  # its row written, not committed
    purging = asyncio.create_task(purge(db, TENANT, workspace))
    await lock_waited_or(db, purging)
    handler.release.set()
    await asyncio.gather(handling, purging)
    assert await note_count(db, TENANT) == 0


@SCOPES
async def test_an_event_arriving_during_the_purge_waits_and_is_not_handled(
    db: Database, database_url: str, workspace: uuid.UUID | None
) -> None:
    handler = Notes()
    consumer = processor(db, database_url, {PLAIN: handler})
    late = event(0, TENANT, WORKSPACE)
    async with db.transaction(TENANT) as session:
        await PURGER(session, purge_request(TENANT, workspace))
        handling = asyncio.create_task(consumer.process(incoming(late)))
        await lock_waited_or(db, handling)
    await handling
    assert handler.seen == []
    assert await note_count(db, TENANT) == 0
    assert await claimed(db, [late]) == 1

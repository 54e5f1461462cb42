"""An owner's purge deletes exactly the request's range of its class, in chunks, keeps what
a hold covers (through the row naming the scope, when only that one does, keeping the rows
it cannot place), answers PurgeDone once, and leaves other classes (the rollups) alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.events.platform import (
    DELETED_WORK_ITEMS,
    PurgeHold,
    PurgeRequested,
    WorkspaceRestored,
)
from sextant.contracts.topics import LIFECYCLE
from sextant.runtime.db import Database
from sextant.runtime.outbox import Outbox
from sextant.runtime.purge import Keep, Purger, PurgeTable, with_purge
from sextant.runtime.testing import busworker

TENANT = busworker.TENANT
OTHER_TENANT = UUID("00000000-0000-7000-8000-0000000000b3")
WS, HELD_WS = UUID(int=1), UUID(int=2)
DEV, HELD_DEV = UUID(int=11), UUID(int=12)
MANIFEST = UUID("00000000-0000-7000-8000-00000000a001")


def at(hour: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, 0, second, tzinfo=UTC)


tables = sa.MetaData(schema=busworker.SCHEMA)
events = sa.Table(
    "purge_events",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("workspace_id", sa.Uuid),
    sa.Column("developer_id", sa.Uuid),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
rollups = sa.Table(
    "purge_rollups",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("day", sa.DateTime(timezone=True), nullable=False),
)
# What an owner keeps hot of the events a class purge deletes (none of the held developer's).
kept = sa.Table(
    "purge_kept",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
# Items kept soft-deleted (deleted in their tool) and the moves that belong to them.
items = sa.Table(
    "purge_items",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("developer_id", sa.Uuid),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
moves = sa.Table(
    "purge_item_moves",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("move", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),  # the item's
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
# (label, workspace, developer, created, deleted)
ITEMS = [
    ("deleted-early", WS, DEV, at(6), at(9)),
    ("deleted-at-cutoff", WS, DEV, at(13), at(17)),
    ("deleted-after-cutoff", WS, DEV, at(1), at(17, 1)),
    ("alive", WS, DEV, at(1), None),
    ("held-workspace", HELD_WS, DEV, at(1), at(9)),
    ("held-developer", WS, HELD_DEV, at(1), at(9)),
    ("life-meets-tenant-hold", WS, DEV, at(4), at(16)),
]
ITEM_TABLE = PurgeTable(
    items,
    DELETED_WORK_ITEMS,
    time_column="deleted_at",
    workspace_column="workspace_id",
    developer_column="developer_id",
    lifetime=True,
    since_column="created_at",
)
ITEM_MOVES = PurgeTable(moves, DELETED_WORK_ITEMS, item_of=(ITEM_TABLE, ("tenant_id", "label")))
DELETED = PurgeRequested(
    manifest_id=MANIFEST,
    data_class=DELETED_WORK_ITEMS,
    older_than=at(17),
    holds=[
        PurgeHold(scope_kind="workspace", scope_id=HELD_WS),
        PurgeHold(scope_kind="developer", scope_id=HELD_DEV),
        # its events from 2 to 5 are held: an item whose life meets that range stays,
        # though it was deleted long after
        PurgeHold(scope_kind="tenant", starts_at=at(2), ends_at=at(5)),
    ],
)

# (label, tenant, workspace, developer, time)
ROWS = [
    ("before-range", TENANT, WS, DEV, at(8)),
    ("range-start", TENANT, WS, DEV, at(9)),
    ("developer-outside-hold", TENANT, WS, HELD_DEV, at(10)),
    ("noon", TENANT, WS, DEV, at(12)),
    ("held-workspace", TENANT, HELD_WS, DEV, at(12)),
    ("held-developer", TENANT, WS, HELD_DEV, at(14)),
    ("range-end", TENANT, WS, DEV, at(17)),
    ("after-range", TENANT, WS, DEV, at(17, 1)),
    ("other-tenant", OTHER_TENANT, WS, DEV, at(12)),
]
REQUEST = PurgeRequested(
    manifest_id=MANIFEST,
    data_class="activity_events",
    topic="sextant.activity",
    not_before=at(9),
    older_than=at(17),
    holds=[
        PurgeHold(scope_kind="workspace", scope_id=HELD_WS),
        PurgeHold(scope_kind="developer", scope_id=HELD_DEV, starts_at=at(13)),
    ],
)


def envelope(data: PurgeRequested | WorkspaceRestored, tenant: UUID = TENANT) -> Envelope:
    return Envelope.wrap(data, source="/sextant/archive", tenantid=tenant, subject="manifest")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await busworker.started_with(database_url, tables)
    for tenant in (TENANT, OTHER_TENANT):
        async with database.transaction(tenant) as session:
            await session.execute(
                sa.insert(events),
                [
                    {"label": n, "tenant_id": t, "workspace_id": w, "developer_id": d, "at": a}
                    for n, t, w, d, a in ROWS
                    if t == tenant
                ],
            )
            await session.execute(
                sa.insert(rollups), [{"label": f"day-{tenant}", "tenant_id": tenant, "day": at(0)}]
            )
    async with database.transaction(TENANT) as session:
        await session.execute(
            sa.insert(items),
            [
                {
                    "label": n,
                    "tenant_id": TENANT,
                    "workspace_id": w,
                    "developer_id": d,
                    "created_at": c,
                    "deleted_at": x,
                }
                for n, w, d, c, x in ITEMS
            ],
        )
        await session.execute(
            sa.insert(moves),
            [
                {"move": f"{n}/move", "tenant_id": TENANT, "label": n, "at": c}
                for n, *_, c, _ in ITEMS
            ],
        )
    yield database
    await database.stop()


def purger(chunk_rows: int = 2) -> Purger:
    return Purger(
        "conformance",
        Outbox(busworker.spine.outbox, source="/sextant/conformance"),
        [
            PurgeTable(
                events,
                "activity_events",
                time_column="at",
                workspace_column="workspace_id",
                developer_column="developer_id",
            ),
            PurgeTable(rollups, "daily_rollups", time_column="day"),
        ],
        chunk_rows=chunk_rows,
    )


async def labels(session: AsyncSession, table: sa.Table) -> set[str]:
    return set((await session.execute(sa.select(table.c.label))).scalars())


async def answers(session: AsyncSession) -> list[dict[str, object]]:
    rows = await session.execute(sa.select(busworker.spine.outbox.c.envelope))
    return [e["data"] for e in rows.scalars() if e["type"].endswith("purge.done.v1")]


async def test_a_purge_deletes_exactly_its_range_but_held_rows_and_answers_once(
    db: Database,
) -> None:
    handler = with_purge({}, purger(chunk_rows=2))[LIFECYCLE.name]
    request = envelope(REQUEST)
    async with db.transaction(TENANT) as session:
        await handler(session, request)
    async with db.transaction(TENANT) as session:
        await handler(session, request)  # redelivered after the inbox forgot it
    async with db.transaction() as session:
        assert await labels(session, events) == {
            "before-range",
            "held-workspace",
            "held-developer",
            "after-range",
            "other-tenant",
        }
        assert await labels(session, rollups) == {f"day-{TENANT}", f"day-{OTHER_TENANT}"}
        assert await answers(session) == [
            {
                "manifest_id": str(MANIFEST),
                "service": "conformance",
                "rows_deleted": 4,  # range-start, developer-outside-hold, noon, range-end
                "data_class": "activity_events",
                "request_id": str(request.id),
                "scope": None,
            }
        ]


async def test_a_tenant_hold_keeps_every_row_it_meets(db: Database) -> None:
    held = REQUEST.model_copy(
        update={"holds": [PurgeHold(scope_kind="tenant", starts_at=at(10), ends_at=at(17))]}
    )
    async with db.transaction(TENANT) as session:
        await purger(chunk_rows=100).delete(session, TENANT, held)
        assert await labels(session, events) == {
            "before-range",
            "developer-outside-hold",
            "noon",
            "held-workspace",
            "held-developer",
            "after-range",
            "other-tenant",  # these test tables have no RLS: the filter alone keeps it
        }


async def test_a_request_of_another_class_or_another_event_reaches_the_own_handler(
    db: Database,
) -> None:
    seen: list[str] = []

    async def own(session: AsyncSession, e: Envelope) -> None:
        seen.append(e.type)

    handler = with_purge({LIFECYCLE.name: own}, purger())[LIFECYCLE.name]
    restored = envelope(WorkspaceRestored(restored_by="someone"))
    async with db.transaction(TENANT) as session:
        await handler(session, envelope(REQUEST.model_copy(update={"data_class": "reports"})))
        await handler(session, restored)
        assert len(await labels(session, events)) == len(ROWS)
        assert await answers(session) == []
    assert seen == [restored.type]


async def test_a_table_of_no_class_goes_only_with_its_scope_and_any_hold_keeps_it(
    db: Database,
) -> None:
    scope_only = Purger(
        "x", Outbox(busworker.spine.outbox, source="/x"), [PurgeTable(rollups, None)]
    )
    assert scope_only.classes() == frozenset()
    held = PurgeRequested(
        manifest_id=MANIFEST,
        older_than=at(23),
        scope="tenant",
        holds=[PurgeHold(scope_kind="tenant", starts_at=at(20))],
    )
    async with db.transaction(TENANT) as session:
        assert (
            await scope_only.delete(
                session, TENANT, REQUEST.model_copy(update={"data_class": None})
            )
            == 0
        )
        # when its rows happened is not declared: the hold may cover them, they stay
        assert await scope_only.delete(session, TENANT, held) == 0
        assert await scope_only.delete(session, TENANT, held.model_copy(update={"holds": []})) == 1
        assert await labels(session, rollups) == {f"day-{OTHER_TENANT}"}


def test_a_chunk_must_hold_a_row() -> None:
    with pytest.raises(ValueError, match="chunk_rows"):
        Purger("x", Outbox(busworker.spine.outbox, source="/x"), [], chunk_rows=0)


async def test_a_workspace_purge_deletes_its_rows_of_every_class_and_tells_the_owner(
    db: Database,
) -> None:
    purged: list[tuple[UUID, UUID | None]] = []

    async def mark(session: AsyncSession, tenant: UUID, workspace: UUID | None) -> int:
        purged.append((tenant, workspace))
        return 2  # rows the owner deleted itself: counted in the answer

    owner = Purger(
        "conformance",
        Outbox(busworker.spine.outbox, source="/sextant/conformance"),
        purger().tables,
        on_scope_purged=mark,
    )
    handler = with_purge({}, owner)[LIFECYCLE.name]
    scoped = PurgeRequested(
        manifest_id=MANIFEST, older_than=at(23), scope="workspace", workspace_id=HELD_WS
    )
    async with db.transaction(TENANT) as session:
        await handler(session, envelope(scoped))
        # every time, every class; the rollups have no workspace column: kept
        assert await labels(session, events) == {r[0] for r in ROWS} - {"held-workspace"}
        assert len(await labels(session, rollups)) == 2
        assert [(a["scope"], a["rows_deleted"]) for a in await answers(session)] == [
            ("workspace", 1 + 2)
        ]
    assert purged == [(TENANT, HELD_WS)]


async def test_a_tenant_purge_deletes_all_its_rows_but_those_a_hold_names(db: Database) -> None:
    scoped = PurgeRequested(
        manifest_id=MANIFEST,
        older_than=at(23),
        scope="tenant",
        holds=[PurgeHold(scope_kind="developer", scope_id=HELD_DEV)],
    )
    async with db.transaction(TENANT) as session:
        assert await purger().delete(session, TENANT, scoped) == 6
        assert await labels(session, events) == {
            "developer-outside-hold",
            "held-developer",
            "other-tenant",
        }
        # the rollups have no developer column: the hold may cover them, they stay
        assert len(await labels(session, rollups)) == 2
        unheld = scoped.model_copy(update={"holds": []})
        assert await purger().delete(session, TENANT, unheld) == 2 + 1
        assert await labels(session, rollups) == {f"day-{OTHER_TENANT}"}


def item_purger() -> Purger:
    """An owner keeping soft-deleted items, their moves declared before nothing: the
    purge deletes the moves first whatever the order."""
    return Purger(
        "conformance",
        Outbox(busworker.spine.outbox, source="/sextant/conformance"),
        [ITEM_TABLE, ITEM_MOVES, *purger().tables],
        chunk_rows=2,
    )


async def test_items_deleted_in_their_tool_go_with_their_moves_but_those_a_hold_meets(
    db: Database,
) -> None:
    handler = with_purge({}, item_purger())[LIFECYCLE.name]
    request = envelope(DELETED)
    async with db.transaction(TENANT) as session:
        await handler(session, request)
        kept = {
            "deleted-after-cutoff",
            "alive",
            "held-workspace",
            "held-developer",
            "life-meets-tenant-hold",  # created at 4, inside the hold's 2..5
        }
        assert await labels(session, items) == kept
        assert await labels(session, moves) == kept
        assert len(await labels(session, events)) == len(ROWS)  # another class: untouched
        assert await answers(session) == [
            {
                "manifest_id": str(MANIFEST),
                "service": "conformance",
                "rows_deleted": 4,  # deleted-early, deleted-at-cutoff and their moves
                "data_class": "deleted_work_items",
                "request_id": str(request.id),
                "scope": None,
            }
        ]


async def test_an_item_of_unknown_start_is_kept_by_any_hold_before_its_deletion(
    db: Database,
) -> None:
    unknown_start = PurgeTable(
        items,
        DELETED_WORK_ITEMS,
        time_column="deleted_at",
        workspace_column="workspace_id",
        lifetime=True,
    )
    owner = Purger("x", Outbox(busworker.spine.outbox, source="/x"), [unknown_start])
    held = DELETED.model_copy(
        update={"holds": [PurgeHold(scope_kind="tenant", starts_at=at(10), ends_at=at(11))]}
    )
    async with db.transaction(TENANT) as session:
        # those deleted at 9, before the hold starts, go: their lives cannot meet it;
        # those deleted at 16 and 17 stay, however late they were created
        assert await owner.delete(session, TENANT, held) == 3
        assert await labels(session, items) == {
            "deleted-at-cutoff",
            "deleted-after-cutoff",
            "alive",
            "life-meets-tenant-hold",
        }


async def test_an_owner_declaring_no_deleted_items_answers_nothing(db: Database) -> None:
    handler = with_purge({}, purger())[LIFECYCLE.name]
    async with db.transaction(TENANT) as session:
        await handler(session, envelope(DELETED))
        assert len(await labels(session, items)) == len(ITEMS)
        assert await answers(session) == []


async def noon_again(session: AsyncSession, moment: datetime) -> None:
    """The purged "noon" row projected again (a replay), at ``moment``."""
    row = {"label": "noon", "tenant_id": TENANT, "workspace_id": WS, "developer_id": DEV}
    await session.execute(sa.insert(events), [row | {"at": moment}])


async def test_a_class_purge_keeps_what_the_owner_keeps_of_its_rows_in_the_same_statement(
    db: Database,
) -> None:
    declared = PurgeTable(
        events,
        "activity_events",
        time_column="at",
        workspace_column="workspace_id",
        keep=Keep(kept, events.c.developer_id != HELD_DEV),
    )
    owner = Purger("x", Outbox(busworker.spine.outbox, source="/x"), [declared], chunk_rows=2)
    request = REQUEST.model_copy(
        update={"holds": [PurgeHold(scope_kind="workspace", scope_id=HELD_WS)]}
    )
    async with db.transaction(TENANT) as session:
        # range-start 9:00, developer-outside-hold 10:00, noon, held-developer 14:00,
        # range-end 17:00 go (three chunks of at most two); the held developer's is not kept
        assert await owner.delete(session, TENANT, request) == 5
        assert await labels(session, events) == {
            "before-range",
            "held-workspace",
            "after-range",
            "other-tenant",
        }
        rows = await session.execute(sa.select(kept.c.label, kept.c.at).order_by(kept.c.label))
        assert list(rows) == [("noon", at(12)), ("range-end", at(17)), ("range-start", at(9))]
        # the row comes back (a replay) and goes again: its kept facts are the newer ones
        await noon_again(session, at(13))
        assert await owner.delete(session, TENANT, request) == 1
        assert await session.scalar(sa.select(kept.c.at).where(kept.c.label == "noon")) == at(13)
        # a scope purge keeps nothing
        await noon_again(session, at(15))
        scoped = PurgeRequested(manifest_id=MANIFEST, older_than=at(23), scope="tenant")
        assert await owner.delete(session, TENANT, scoped) == 4  # noon and the three left
        assert await session.scalar(sa.select(kept.c.at).where(kept.c.label == "noon")) == at(13)


# Rows naming their scope only through another's (ingest's deliveries through their source):
# a source names the workspace and developer, a delivery its source, a note its delivery.
sources = sa.Table(
    "purge_sources",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("developer_id", sa.Uuid, nullable=False),
)
deliveries = sa.Table(
    "purge_deliveries",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("source", sa.Text),  # no foreign key: a source may be gone
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
notes = sa.Table(
    "purge_delivery_notes",
    tables,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("label", sa.Text, primary_key=True),
    sa.Column("delivery", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
# (label, workspace, developer)
SOURCES = [("held-ws", HELD_WS, DEV), ("other-ws", WS, DEV), ("held-dev", WS, HELD_DEV)]
# (label, source, time): the holds below run from 11 to 13
DELIVERIES = [
    ("of-held-ws", "held-ws", at(12)),
    ("of-held-ws-later", "held-ws", at(14)),
    ("of-other-ws", "other-ws", at(12)),
    ("of-held-dev", "held-dev", at(12)),
    ("of-gone-source", "gone", at(12)),
    ("of-gone-source-later", "gone", at(14)),
    ("of-no-source", None, at(12)),
]
# (label, delivery): all at 12
NOTES = [
    ("on-held-ws", "of-held-ws"),
    ("on-other-ws", "of-other-ws"),
    ("on-gone-source", "of-gone-source"),
    ("on-gone-delivery", "gone"),
]
OF_SOURCE = ("tenant_id", "source"), ("tenant_id", "label")
SOURCE_TABLE = PurgeTable(
    sources, None, workspace_column="workspace_id", developer_column="developer_id"
)
DELIVERY_TABLE = PurgeTable(deliveries, "raw", time_column="at", owner=(SOURCE_TABLE, *OF_SOURCE))


async def add_owned_rows(session: AsyncSession) -> None:
    await session.execute(
        sa.insert(sources),
        [
            {"tenant_id": TENANT, "label": n, "workspace_id": w, "developer_id": d}
            for n, w, d in SOURCES
        ],
    )
    await session.execute(
        sa.insert(deliveries),
        [{"tenant_id": TENANT, "label": n, "source": s, "at": a} for n, s, a in DELIVERIES],
    )
    await session.execute(
        sa.insert(notes),
        [{"tenant_id": TENANT, "label": n, "delivery": d, "at": at(12)} for n, d in NOTES],
    )


def raw_purge(data_class: str, hold: PurgeHold) -> PurgeRequested:
    return PurgeRequested(
        manifest_id=MANIFEST, data_class=data_class, older_than=at(17), holds=[hold]
    )


def between_11_and_13(kind: str, scope: UUID | None = None) -> PurgeHold:
    return PurgeHold(scope_kind=kind, scope_id=scope, starts_at=at(11), ends_at=at(13))


async def test_a_hold_reaches_rows_through_their_owner_and_keeps_those_it_cannot_place(
    db: Database,
) -> None:
    workspace_only = PurgeTable(
        deliveries,
        "raw",
        time_column="at",
        owner=(PurgeTable(sources, None, workspace_column="workspace_id"), *OF_SOURCE),
    )
    cannot_place = {"of-gone-source", "of-no-source"}  # in the hold's time: kept
    cases = [
        (DELIVERY_TABLE, between_11_and_13("workspace", HELD_WS), {"of-held-ws"} | cannot_place),
        (DELIVERY_TABLE, between_11_and_13("developer", HELD_DEV), {"of-held-dev"} | cannot_place),
        (
            DELIVERY_TABLE,
            between_11_and_13("tenant"),
            {"of-held-ws", "of-other-ws", "of-held-dev"} | cannot_place,
        ),
        # its owner names no developer: the hold may cover every row it meets in time
        (
            workspace_only,
            between_11_and_13("developer", HELD_DEV),
            {"of-held-ws", "of-other-ws", "of-held-dev"} | cannot_place,
        ),
    ]
    async with db.transaction(TENANT) as session:
        await add_owned_rows(session)
        for declared, hold, kept in cases:
            case = await session.begin_nested()
            owner = Purger("x", Outbox(busworker.spine.outbox, source="/x"), [declared])
            await owner.delete(session, TENANT, raw_purge("raw", hold))
            assert await labels(session, deliveries) == kept, hold
            assert len(await labels(session, sources)) == len(SOURCES)  # an owner only
            await case.rollback()


async def test_a_hold_reaches_rows_through_their_owners_owner(db: Database) -> None:
    declared = PurgeTable(
        notes,
        "notes",
        time_column="at",
        owner=(DELIVERY_TABLE, ("tenant_id", "delivery"), ("tenant_id", "label")),
    )
    owner = Purger("x", Outbox(busworker.spine.outbox, source="/x"), [declared])
    async with db.transaction(TENANT) as session:
        await add_owned_rows(session)
        held = raw_purge("notes", between_11_and_13("workspace", HELD_WS))
        assert await owner.delete(session, TENANT, held) == 1
        # the held workspace's, and those whose delivery or its source cannot be placed
        assert await labels(session, notes) == {"on-held-ws", "on-gone-source", "on-gone-delivery"}

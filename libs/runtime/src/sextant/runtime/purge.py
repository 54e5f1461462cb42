"""An owner's side of the purge: deleting its own hot rows once the archive asks.

The archive publishes ``PurgeRequested`` only after the object holding a range of events
verifies; the request names a data class, the range ``[not_before, older_than]`` (the
object's first and last event) and the legal holds in force that meet it. A service
declares once, in its SPEC's handlers, which of its tables hold which data class
(:class:`PurgeTable`: the tenant and time columns, and the workspace and developer
columns when it has them) and :func:`with_purge` answers for it: rows of the class timed
in the range are deleted in chunks of ``chunk_rows`` (each statement bounded), never a
row a hold covers, and ``PurgeDone`` with the count goes out through the outbox in the
same transaction. Such a table needs an index leading with its tenant column, or one
tenant's purge reads every tenant's rows (checked from the metadata by
:func:`sextant.runtime.testing.purging.check_class_purges_find_their_tenants_rows`).

A hold covers a row when its time range meets the row's time and its scope does: a
tenant hold always, a workspace or developer hold when the row's column names that id,
or its ``owner``'s row's column does (a table naming its workspace only through another:
ingest's deliveries and commit lists through their source; an owner may have its own), or
always when neither has such a column or the owner's row is missing (the owner cannot
tell, so it keeps the row).

A scope purge (``scope`` set: a soft-deleted tenant or workspace past its grace period,
sent only once the archive has verified a copy of its events) deletes every row of the
tenant, or of the workspace, from every declared table whatever its class or time; a
table without a workspace column keeps its rows on a workspace purge (it cannot tell
them apart). A table of no class (``data_class`` None: identity's developers and aliases)
is purged only with its scope; one without a time column is kept by any hold meeting its
scope (it cannot tell when its rows happened). The archive sends no scope purge while a
legal hold could cover the scope, and the holds a request names are kept all the same.
``on_scope_purged`` lets the owner of the tenants and workspaces (the gateway) mark them
purged, and delete what it cannot declare (its hash-chained audit log), in the same
transaction, before the declared rows go: marking first locks the scope's row, so a
writer that checks it (for share) either commits before the deletes or sees it purged.
A table that lists workspaces (an array of ids) rather than belonging to one cannot be
declared for a workspace's purge: its owner's ``on_scope_purged`` takes the id out of each
list with :func:`without_workspace`, deciding what a row left with none becomes.

Work items deleted in their tool are kept soft-deleted (``deleted_at``) by their owners
until the archive sends a request of class ``deleted_work_items``
(:data:`sextant.contracts.events.platform.DELETED_WORK_ITEMS`), once their grace period is
over and a copy of every event up to ``older_than`` verifies. A table declared for that
class has ``lifetime`` set and its time column is the deletion's: the rows deleted at or
before ``older_than`` go, but those a hold covers — a hold's time range is met by the
item's life, from ``since_column`` (from the beginning when there is none) to its deletion,
not by its deletion alone. Rows that belong to such an item in other tables (``item_of``:
the item's declaration and the columns naming it, ``item_columns`` when the item names
them otherwise; no time column needed) go with it, deleted before it, on that class's
request as on a scope purge. An owner that predates the class does not declare it and
answers nothing.

An owner may keep hot what it still reads of the rows a class purge deletes (``keep``, a
:class:`Keep`: DORA's facts of insights' projections): the same statement that deletes a
chunk moves the kept table's columns of the chunk's rows into it (``WITH gone AS (DELETE …
RETURNING …) INSERT … ON CONFLICT (its key) DO UPDATE``), so no row is lost between them.
The kept table is declared with no class, so only a scope purge deletes its rows.

A scope purge also leaves a tombstone (:mod:`sextant.runtime.tombstones`): before anything
else it takes the tenant's purge lock exclusively (a workspace's purge too), so the
handlers of the tenant's events already running commit first and their rows go too, and it
records the tenant in ``purged_tenants``, or the workspace in ``purged_workspaces``, so the
consumer handles none of its events queued behind the purge (they are claimed, not
handled) and nothing brings its rows back.

Redelivery is harmless: the rows are gone (a second run deletes none of them) and the
answer's id is the request's and the service's, so the archive records it once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID, uuid5

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope
from sextant.contracts.events.platform import PurgeDone, PurgeHold, PurgeRequested
from sextant.contracts.topics import LIFECYCLE
from sextant.runtime.consumer import Handler
from sextant.runtime.outbox import Outbox
from sextant.runtime.tombstones import PURGE_REQUESTED, bury

log = structlog.get_logger()

_ANSWERS = UUID("0b7d2f64-3c1e-4f5a-8e92-6d1a7c4b3e58")  # namespace of PurgeDone ids


@dataclass(frozen=True)
class Keep:
    """Where a class purge moves what the owner keeps of the rows it deletes: ``table``'s
    columns (named as in the purged table; its generated ones are left to PostgreSQL) of
    the rows ``when`` (over the purged table's columns) holds for, upserted by its key."""

    table: sa.Table
    when: sa.ColumnElement[bool] | None = None

    def moving(self, purged: sa.Table, doomed: sa.ColumnElement[bool]) -> sa.Select[Any]:
        """One statement deleting ``doomed`` from ``purged`` and keeping what it should;
        it returns how many rows it deleted."""
        names = [c.name for c in self.table.c if c.computed is None]
        kept = (sa.true() if self.when is None else self.when).label("kept")
        deleting = sa.delete(purged).where(doomed).returning(*(purged.c[n] for n in names), kept)
        gone = deleting.cte("gone")
        insert = pg_insert(self.table).from_select(
            names, sa.select(*(gone.c[n] for n in names)).where(gone.c.kept)
        )
        key = [c.name for c in self.table.primary_key]
        upsert = insert.on_conflict_do_update(
            index_elements=key, set_={n: insert.excluded[n] for n in names if n not in key}
        )
        return sa.select(sa.func.count()).select_from(gone).add_cte(upsert.cte("keep"))


@dataclass(frozen=True)
class PurgeTable:
    """One of a service's tables holding rows of a retention data class."""

    table: sa.Table
    data_class: str | None
    """None: purged only with its tenant or workspace (a scope purge), or its item."""
    time_column: str | None = None
    """When the row happened; None: it cannot tell (any hold meeting its scope keeps it)."""
    tenant_column: str = "tenant_id"
    workspace_column: str | None = None
    developer_column: str | None = None
    lifetime: bool = False
    """The row stands for an item's life up to ``time_column`` (a soft-deleted item)."""
    since_column: str | None = None
    """Where that life starts; None: unknown, so from the beginning."""
    item_of: tuple[PurgeTable, tuple[str, ...]] | None = None
    """The row belongs to an item of that declaration (these columns name it in both)."""
    item_columns: tuple[str, ...] | None = None
    """The item's own names for ``item_of``'s columns, when they differ."""
    keep: Keep | None = None
    """What a class purge of this table keeps hot of the rows it deletes (see the module)."""
    owner: tuple[PurgeTable, tuple[str, ...], tuple[str, ...]] | None = None
    """The row naming the workspace and developer this table has no column for: its
    declaration (which may have an owner of its own), this table's columns naming it and
    the row's own (for holds only)."""

    def _column(self, name: str) -> sa.ColumnElement[object]:
        return self.table.c[name]

    def _scope_column(self, kind: str) -> str | None:
        return {"workspace": self.workspace_column, "developer": self.developer_column}.get(kind)

    def _in_scope(self, hold: PurgeHold) -> sa.ColumnElement[bool] | None:
        """Rows of the hold's workspace or developer; None: this table cannot tell."""
        if hold.scope_id is None:
            return None
        column = self._scope_column(hold.scope_kind)
        if column is not None:
            return self._column(column) == hold.scope_id
        if self.owner is None:
            return None
        owner, mine, theirs = self.owner
        owners = owner._in_scope(hold)
        if owners is None:
            return None
        named = sa.select(*(owner._column(c) for c in theirs)).where(owners)
        pairs = zip(mine, theirs, strict=True)
        placed = sa.exists().where(*(owner._column(t) == self._column(m) for m, t in pairs))
        # no owner row (deleted, purged, never written): the row cannot be placed, so kept
        return sa.or_(sa.tuple_(*(self._column(c) for c in mine)).in_(named), sa.not_(placed))

    def _held(self, hold: PurgeHold) -> sa.ColumnElement[bool]:
        """Rows the hold covers (see the module for the rule)."""
        parts: list[sa.ColumnElement[bool]] = []
        in_scope = self._in_scope(hold)
        if in_scope is not None:
            parts.append(in_scope)
        if self.time_column is None:
            return sa.and_(sa.true(), *parts)
        at = self._column(self.time_column)
        if hold.starts_at is not None:
            parts.append(at >= hold.starts_at)
        if hold.ends_at is not None and not self.lifetime:
            parts.append(at < hold.ends_at)
        elif hold.ends_at is not None and self.since_column is not None:
            parts.append(self._column(self.since_column) < hold.ends_at)
        return sa.and_(sa.true(), *parts)

    def doomed(self, tenant: UUID, request: PurgeRequested) -> sa.ColumnElement[bool] | None:
        """The rows the request deletes from this table; None when it deletes none here."""
        if self.item_of is not None:
            return self._belonging(tenant, request, *self.item_of)
        if request.scope is not None:
            return self._scoped(tenant, request)
        if self.data_class is None or self.time_column is None:
            return None
        if request.data_class != self.data_class:
            return None
        at = self._column(self.time_column)
        parts = [self._column(self.tenant_column) == tenant, at <= request.older_than]
        if request.not_before is not None:
            parts.append(at >= request.not_before)
        parts.extend(sa.not_(self._held(hold)) for hold in request.holds)
        return sa.and_(*parts)

    def _belonging(
        self, tenant: UUID, request: PurgeRequested, item: PurgeTable, columns: tuple[str, ...]
    ) -> sa.ColumnElement[bool] | None:
        """The rows of the items the request deletes from ``item``'s table (on a scope
        purge too: its holds are the item's)."""
        doomed = item.doomed(tenant, request)
        if doomed is None:
            return None
        named = self.item_columns or columns
        items = sa.select(*(item._column(c) for c in named)).where(doomed)
        mine = sa.tuple_(*(self._column(c) for c in columns))
        return sa.and_(self._column(self.tenant_column) == tenant, mine.in_(items))

    def _scoped(self, tenant: UUID, request: PurgeRequested) -> sa.ColumnElement[bool] | None:
        """Every row of the tenant, or of the workspace (None: no workspace column)."""
        parts = [self._column(self.tenant_column) == tenant]
        if request.scope == "workspace":
            if self.workspace_column is None or request.workspace_id is None:
                return None
            parts.append(self._column(self.workspace_column) == request.workspace_id)
        parts.extend(sa.not_(self._held(hold)) for hold in request.holds)
        return sa.and_(*parts)


Deleter = Callable[[AsyncSession, UUID, PurgeRequested], Awaitable[int]]
"""An owner's own deletion for a class its tables cannot be declared for (the gateway's
hash-chained audit log): the rows it deleted."""

ScopePurged = Callable[[AsyncSession, UUID, UUID | None], Awaitable[int]]
"""Called with the tenant and the workspace (None: the whole tenant) before its declared
rows are deleted, in the same transaction: the rows it deleted itself."""


class Purger:
    """Answers ``PurgeRequested`` for a service's declared tables (see the module)."""

    def __init__(
        self,
        service: str,
        outbox: Outbox,
        tables: Sequence[PurgeTable],
        *,
        chunk_rows: int = 5000,
        on_scope_purged: ScopePurged | None = None,
        deleters: Mapping[str, Deleter] | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.service = service
        self.outbox = outbox
        self.tables = tuple(tables)
        self.chunk_rows = chunk_rows
        self.on_scope_purged = on_scope_purged
        self.deleters = dict(deleters or {})

    def classes(self) -> frozenset[str]:
        declared = frozenset(
            t.data_class for t in self.tables if t.item_of is None and t.data_class is not None
        )
        return declared | frozenset(self.deleters)

    async def delete(self, session: AsyncSession, tenant: UUID, request: PurgeRequested) -> int:
        """Delete the request's rows from every table it names, a chunk at a time (and
        through the class's own deleter, if it has one; never on a scope purge); the rows
        belonging to an item before the item."""
        deleted = 0
        deleter = self.deleters.get(request.data_class or "")
        if deleter is not None and request.scope is None:
            deleted += await deleter(session, tenant, request)
        for purged in sorted(self.tables, key=lambda t: t.item_of is None):
            doomed = purged.doomed(tenant, request)
            if doomed is None:
                continue
            ctid: sa.ColumnElement[object] = sa.literal_column("ctid")
            chunk = sa.select(ctid).select_from(purged.table).where(doomed).limit(self.chunk_rows)
            in_chunk = ctid == sa.func.any(sa.func.array(chunk.scalar_subquery()))
            keep = purged.keep if request.scope is None else None
            statement: sa.Executable = (
                sa.delete(purged.table).where(in_chunk)
                if keep is None
                else keep.moving(purged.table, in_chunk)
            )
            while True:
                result = cast("CursorResult[Any]", await session.execute(statement))
                count = (result.rowcount if keep is None else result.scalar_one()) or 0
                deleted += count
                if count < self.chunk_rows:
                    break
        return deleted

    async def __call__(self, session: AsyncSession, envelope: Envelope) -> None:
        """Handle a lifecycle event: a purge request of one of our classes, else nothing."""
        if envelope.type != PURGE_REQUESTED:
            return
        request = PurgeRequested.model_validate(envelope.data)
        if request.scope is None and (
            request.data_class is None or request.data_class not in self.classes()
        ):
            return
        deleted = 0
        workspace = request.workspace_id if request.scope == "workspace" else None
        if request.scope == "tenant" or workspace is not None:
            await bury(session, self.outbox.schema, envelope.tenantid, workspace)
        if request.scope is not None and self.on_scope_purged is not None:
            deleted += await self.on_scope_purged(session, envelope.tenantid, workspace)
        deleted += await self.delete(session, envelope.tenantid, request)
        answer = PurgeDone(
            manifest_id=request.manifest_id,
            service=self.service,
            rows_deleted=deleted,
            data_class=request.data_class,
            request_id=envelope.id,
            scope=request.scope,
        )
        await self.outbox.add(
            session,
            answer,
            tenant_id=envelope.tenantid,
            entity=f"manifest:{request.manifest_id}",
            event_id=uuid5(_ANSWERS, f"{envelope.id}:{self.service}"),
        )
        log.info(
            "purge.done",
            service=self.service,
            data_class=request.data_class,
            scope=request.scope,
            rows=deleted,
        )


def with_purge(handlers: Mapping[str, Handler], purger: Purger) -> dict[str, Handler]:
    """``handlers`` with ``purger`` answering purge requests on the lifecycle topic; the
    service's own lifecycle handler (if any) still gets every other lifecycle event."""
    own = handlers.get(LIFECYCLE.name)

    async def on_lifecycle(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.type == PURGE_REQUESTED:
            await purger(session, envelope)
        elif own is not None:
            await own(session, envelope)

    return {**handlers, LIFECYCLE.name: on_lifecycle}


def emptied_without(column: sa.Column[Any], workspace: UUID) -> sa.ColumnElement[bool]:
    """Whether taking ``workspace`` out of ``column`` (an array of ids) leaves it empty:
    the rows whose owner decides what a list of none becomes (:func:`without_workspace`)."""
    return sa.func.cardinality(sa.func.array_remove(column, workspace)) == 0


def without_workspace(
    column: sa.Column[Any],
    tenant: UUID,
    workspace: UUID,
    *,
    tenant_column: str = "tenant_id",
    when_emptied: Mapping[str, sa.ColumnElement[Any]] | None = None,
) -> sa.Update:
    """Remove a purged workspace from the tenant's lists naming it (``column``, an array of
    ids, names it among others: a table of such lists has no workspace column to be
    declared by). ``when_emptied`` sets those columns of the rows whose list it leaves
    empty, each row's old value kept otherwise. The statement returns the changed rows."""
    table = column.table
    emptied = emptied_without(column, workspace)
    values: dict[str, Any] = {column.name: sa.func.array_remove(column, workspace)}
    for name, value in (when_emptied or {}).items():
        values[name] = sa.case((emptied, value), else_=table.c[name])
    return (
        sa.update(table)
        .where(table.c[tenant_column] == tenant, column.any_() == workspace)
        .values(values)
        .returning(*table.c)
    )

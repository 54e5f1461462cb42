"""A scope purge leaves nothing behind: the checks every owner of tenant rows runs.

Every table of a service is either declared to its :class:`~sextant.runtime.purge.Purger`
or listed as kept on purpose, with the reason, so a new table has to choose; and a purge
of a workspace, then of its tenant, deletes a row of the scope from every table that
reaches it, never another workspace's or tenant's. A table a class purge deletes from by
time can find one tenant's rows without reading the others'.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import PurgeRequested
from sextant.runtime.consumer import Handler
from sextant.runtime.db import Database
from sextant.runtime.purge import Purger, PurgeTable

RUNTIME_KEPT = {
    "outbox": "the runtime's: a row leaves once relayed (the purge's own answer among them)",
    "inbox": "the runtime's: the ids of events handled, nothing of a tenant's",
    "purged_tenants": "the runtime's: the tombstone keeping a purged tenant's late events out",
    "purged_workspaces": "the runtime's: the tombstone keeping a purged workspace's late events out",
}


def check_every_table_is_purged_or_kept(
    metadata: sa.MetaData, purger: Purger | None, kept: Mapping[str, str]
) -> None:
    """Each of ``metadata``'s tables is declared to ``purger`` or in ``kept`` (name →
    why it stays), not both; the runtime's spine tables are kept for every service. A
    table of items' rows is declared for its scope too (a row whose item is gone goes)."""
    tables = {t.name for t in metadata.sorted_tables}
    declarations = purger.tables if purger is not None else ()
    declared = {d.table.name for d in declarations}
    only_items = declared - {d.table.name for d in declarations if d.item_of is None}
    assert not only_items, f"only as items' rows (orphans would stay): {sorted(only_items)}"
    kept = {**RUNTIME_KEPT, **kept}
    assert not declared & kept.keys(), f"declared and kept: {sorted(declared & kept.keys())}"
    assert not [name for name, why in kept.items() if not why.strip()], "a kept table needs a why"
    assert not kept.keys() - tables, f"kept but no such table: {sorted(kept.keys() - tables)}"
    undecided = tables - declared - kept.keys()
    assert not undecided, f"neither purged nor kept (declare or keep them): {sorted(undecided)}"


def _leading_columns(table: sa.Table) -> set[str]:
    """The first column of each of the table's indexes, unique constraints and primary key."""
    firsts: list[object] = [next(iter(i.expressions), None) for i in table.indexes]
    firsts += [
        next(iter(c.columns), None)
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint | sa.PrimaryKeyConstraint)
    ]
    return {first.name for first in firsts if isinstance(first, sa.Column)}


def check_class_purges_find_their_tenants_rows(purger: Purger) -> None:
    """Each table a class purge deletes from by time (``tenant = … AND time <= …``) has an
    index, unique constraint or primary key leading with its tenant column: without one,
    a tenant's purge reads every tenant's rows, its cost growing with all of their data."""
    unbounded = sorted(
        f"{d.table.name}.{d.tenant_column}"
        for d in purger.tables
        if d.data_class is not None and d.time_column is not None and d.item_of is None
        if d.tenant_column not in _leading_columns(d.table)
    )
    assert not unbounded, f"no index leading with the tenant column: {unbounded}"


def scope_purge(tenant: UUID, workspace: UUID | None = None) -> Envelope:
    """The archive's request to purge the tenant, or its workspace."""
    request = PurgeRequested(
        manifest_id=uuid7(),
        older_than=datetime.now(UTC),
        scope="tenant" if workspace is None else "workspace",
        workspace_id=workspace,
    )
    return Envelope.wrap(
        request, source="/sextant/archive", tenantid=tenant, workspaceid=workspace, subject="scope"
    )


def _sample(column: sa.Column[Any]) -> object:
    """A value of the column's type, unique enough for any key (no constraint checks more)."""
    kind = column.type
    if isinstance(kind, sa.ARRAY):
        return []
    if isinstance(kind, JSONB):
        return {}
    samples: dict[type[Any], Any] = {
        sa.Uuid: uuid4,
        sa.Text: lambda: secrets.token_hex(8),
        sa.LargeBinary: lambda: secrets.token_bytes(16),
        sa.DateTime: lambda: datetime.now(UTC),
        sa.Date: date.today,
        sa.Time: lambda: time(9),
        sa.BigInteger: lambda: secrets.randbelow(1 << 62),
        sa.Integer: lambda: secrets.randbelow(1 << 30),
        sa.Boolean: lambda: False,
        sa.Float: lambda: 1.5,
    }
    for base, make in samples.items():
        if isinstance(kind, base):
            return make()
    raise TypeError(f"no sample value for {column.table.name}.{column.name}: {kind!r}")


class _Scopes:
    """Rows of (tenant, workspace) pairs in every table; a row of an item's names one of
    the items, unless its table tells the workspace apart itself (then it names none)."""

    def __init__(
        self, purger: Purger, owner_deletes: Sequence[sa.Table], workspace_tables: Collection[str]
    ) -> None:
        self.declared: dict[sa.Table, list[PurgeTable]] = {}
        for declaration in purger.tables:
            self.declared.setdefault(declaration.table, []).append(declaration)
        for table in owner_deletes:
            self.declared.setdefault(table, [PurgeTable(table, None)])
        self.rows: dict[sa.Table, dict[int, dict[str, object]]] = {}
        names = {t.name for t in self.declared}
        assert not set(workspace_tables) - names, f"no such table: {set(workspace_tables) - names}"
        self.workspace_tables = frozenset(workspace_tables)

    def tenant_column(self, table: sa.Table) -> str:
        return self.declared[table][0].tenant_column

    def reaches_workspace(self, table: sa.Table) -> bool:
        return table.name in self.workspace_tables

    def row(self, table: sa.Table, index: int, tenant: UUID, workspace: UUID) -> dict[str, object]:
        declarations = self.declared[table]
        values: dict[str, object] = {
            c.name: _sample(c) for c in table.c if c.identity is None and c.computed is None
        }
        values[declarations[0].tenant_column] = tenant
        for d in declarations:
            if d.workspace_column is not None:
                values[d.workspace_column] = workspace
        if any(d.item_of is None and d.workspace_column is not None for d in declarations):
            return values  # it tells workspaces apart itself: a row whose item is gone goes too
        for d in declarations:
            if d.item_of is not None:
                item, columns = d.item_of
                named = d.item_columns or columns
                values.update(
                    zip(columns, (self.rows[item.table][index][c] for c in named), strict=True)
                )
        return values

    def order(self) -> list[sa.Table]:
        """Items before the rows that name them."""
        ordered: list[sa.Table] = []

        def visit(table: sa.Table) -> None:
            if table in ordered:
                return
            for d in self.declared[table]:
                if d.item_of is not None:
                    visit(d.item_of[0].table)
            ordered.append(table)

        for table in self.declared:
            visit(table)
        return ordered


async def check_scope_purges_leave_nothing(
    db: Database,
    handler: Handler,
    purger: Purger,
    *,
    tenant: UUID,
    other: UUID,
    workspace_tables: Collection[str],
    owner_deletes: Sequence[sa.Table] = (),
    workspace_lists: Collection[sa.Column[Any]] = (),
) -> None:
    """Give every table declared to ``purger`` (and each of ``owner_deletes``, which the
    owner empties itself on a tenant's purge) a row of ``tenant``'s workspace, one of
    another of its workspaces in ``workspace_tables`` (those a workspace's purge should
    reach), and one of ``other``'s; through ``handler`` (the service's lifecycle handler,
    run as the tenant), purge the workspace — its rows go from ``workspace_tables``, the
    other's stay — then the tenant: none of its rows is left anywhere, and ``other``'s all
    stay. Each of ``workspace_lists`` (arrays of workspace ids, in declared tables) names
    the purged workspace and another in every row: the workspace's purge leaves the
    tenant's naming only the other, and ``other``'s as they were."""
    scopes = _Scopes(purger, owner_deletes, workspace_tables)
    purged, spared = uuid7(), uuid7()
    owners = [(tenant, purged), (tenant, spared), (other, uuid7())]
    engine = db.owner_engine()
    try:
        async with engine.begin() as conn:
            for table in scopes.order():
                # the spared workspace's row only where a workspace can be told apart (a
                # table keyed by the tenant alone holds one row of it)
                rows = {
                    i: scopes.row(table, i, t, w)
                    for i, (t, w) in enumerate(owners)
                    if w != spared or scopes.reaches_workspace(table)
                }
                for column in workspace_lists:
                    if column.table is table:
                        for i, (t, w) in enumerate(owners):
                            if i in rows:
                                rows[i][column.name] = [purged, spared if t == tenant else w]
                scopes.rows[table] = rows
                await conn.execute(sa.insert(table), list(rows.values()))

        async def left(of: UUID) -> dict[str, int]:
            async with engine.connect() as conn:
                return {
                    t.name: await conn.scalar(
                        sa.select(sa.func.count()).where(t.c[scopes.tenant_column(t)] == of)
                    )
                    or 0
                    for t in scopes.declared
                }

        async def lists(of: UUID) -> dict[str, list[list[UUID]]]:
            async with engine.connect() as conn:
                return {
                    f"{c.table.name}.{c.name}": list(
                        await conn.scalars(
                            sa.select(c).where(c.table.c[scopes.tenant_column(c.table)] == of)
                        )
                    )
                    for c in workspace_lists
                }

        others = await lists(other)
        async with db.transaction(tenant) as session:
            await handler(session, scope_purge(tenant, purged))
        assert await left(tenant) == dict.fromkeys((t.name for t in scopes.declared), 1)
        named = {f"{c.table.name}.{c.name}": [[spared]] for c in workspace_lists}
        assert await lists(tenant) == named  # its one row left in each table
        assert await lists(other) == others
        async with db.transaction(tenant) as session:
            await handler(session, scope_purge(tenant))
        assert await left(tenant) == dict.fromkeys((t.name for t in scopes.declared), 0)
        assert await left(other) == dict.fromkeys((t.name for t in scopes.declared), 1)
    finally:
        await engine.dispose()

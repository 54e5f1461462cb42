"""The second wall: as the app role, RLS hides other tenants' rows whatever the query."""

import uuid

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.runtime.db import Database, driver_connection, set_tenant
from sextant.runtime.migrations import _bootstrap, enable_tenant_rls, sees_every_row

TENANT_A = uuid.UUID("0190d6a0-0000-7000-8000-00000000000a")
TENANT_B = uuid.UUID("0190d6a0-0000-7000-8000-00000000000b")


def create_tenant_table(conn: sa.Connection) -> None:
    _bootstrap(conn, "rlsdemo", "pw")
    conn.execute(
        sa.text(
            "CREATE TABLE rlsdemo.items (id serial PRIMARY KEY, tenant_id uuid NOT NULL, name text)"
        )
    )
    enable_tenant_rls(Operations(MigrationContext.configure(conn)), "items", "rlsdemo")


@pytest.fixture
async def db(database_url):
    database = Database(database_url, "rlsdemo", app_password="pw")
    owner = database.owner_engine()
    async with owner.begin() as conn:
        await conn.run_sync(create_tenant_table)
    await owner.dispose()
    await database.start()
    for tenant, names in ((TENANT_A, ["a1", "a2"]), (TENANT_B, ["b1"])):
        async with database.transaction(tenant) as session:
            for name in names:
                await session.execute(
                    sa.text("INSERT INTO rlsdemo.items (tenant_id, name) VALUES (:t, :n)"),
                    {"t": tenant, "n": name},
                )
    yield database
    await database.stop()


async def names(db: Database, tenant):
    async with db.transaction(tenant) as session:
        return sorted((await session.execute(sa.text("SELECT name FROM rlsdemo.items"))).scalars())


async def test_unfiltered_query_sees_only_the_current_tenant(db):
    assert await names(db, TENANT_A) == ["a1", "a2"]
    assert await names(db, TENANT_B) == ["b1"]


async def test_no_tenant_set_sees_nothing(db):
    assert await names(db, None) == []


async def test_writing_a_row_for_another_tenant_is_refused(db):
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.transaction(TENANT_A) as session:
            await session.execute(
                sa.text("INSERT INTO rlsdemo.items (tenant_id, name) VALUES (:t, 'x')"),
                {"t": TENANT_B},
            )


async def test_app_role_cannot_switch_rls_off(db):
    with pytest.raises(DBAPIError):
        async with db.transaction(TENANT_A) as session:
            await session.execute(sa.text("ALTER TABLE rlsdemo.items DISABLE ROW LEVEL SECURITY"))
    async with db.transaction(TENANT_A) as session:
        bypass = await session.scalar(
            sa.text("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")
        )
    assert bypass is False


# The driver paths (bare asyncpg, for hot paths) keep the same wall.


async def test_a_driver_transaction_sees_only_its_tenant_and_none_without_one(db):
    async with db.driver_transaction(TENANT_B) as connection:
        assert [r["name"] for r in await connection.fetch("SELECT name FROM rlsdemo.items")] == [
            "b1"
        ]
    async with db.driver_transaction() as connection:
        assert await connection.fetch("SELECT name FROM rlsdemo.items") == []
    async with db.driver() as connection:  # a bare connection: no tenant either
        assert await connection.fetch("SELECT name FROM rlsdemo.items") == []


async def test_a_failed_driver_transaction_keeps_nothing_and_leaks_no_tenant(db):
    with pytest.raises(RuntimeError, match="half-way"):
        async with db.driver_transaction(TENANT_A) as connection:
            await connection.execute(
                "INSERT INTO rlsdemo.items (tenant_id, name) VALUES ($1, 'a3')", TENANT_A
            )
            raise RuntimeError("half-way")
    assert await names(db, TENANT_A) == ["a1", "a2"]
    # The pool hands connections back without a reset query: the tenant setting must not
    # outlive its transaction on any of them.
    for _ in range(3):
        async with db.driver() as connection:
            assert (
                await connection.fetchval(
                    "SELECT coalesce(current_setting('sextant.tenant_id', true), '')"
                )
                == ""
            )


async def test_a_driver_transaction_cannot_write_another_tenants_row(db):
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.driver_transaction(TENANT_A) as connection:
            await connection.execute(
                "INSERT INTO rlsdemo.items (tenant_id, name) VALUES ($1, 'x')", TENANT_B
            )


async def test_a_sessions_driver_connection_is_its_transactions_own(db):
    """Looked up once per transaction, the raw connection still writes inside that
    transaction, as its tenant: a rollback keeps nothing; a later transaction of the same
    session is given its own connection, not the one cached before."""
    with pytest.raises(RuntimeError, match="half-way"):
        async with db.transaction(TENANT_A) as session:
            first = await driver_connection(session)
            assert await driver_connection(session) is first  # the cached one
            await first.execute(
                "INSERT INTO rlsdemo.items (tenant_id, name) VALUES ($1, 'a3')", TENANT_A
            )
            assert await first.fetchval("SELECT count(*) FROM rlsdemo.items") == 3
            raise RuntimeError("half-way")
    assert await names(db, TENANT_A) == ["a1", "a2"]

    async with AsyncSession(db.engine) as session:
        async with session.begin():
            await set_tenant(session, TENANT_A)
            await driver_connection(session)
        async with session.begin():
            await set_tenant(session, TENANT_B)
            again = await driver_connection(session)
            current = await (await session.connection()).get_raw_connection()
            assert again is current.driver_connection
            assert [r["name"] for r in await again.fetch("SELECT name FROM rlsdemo.items")] == [
                "b1"
            ]


async def test_a_snapshot_transaction_sees_one_snapshot_of_its_tenant_and_writes_nothing(db):
    """a3 commits between its two reads: the second read still sees only a1 and a2 (one
    statement's snapshot, READ COMMITTED, would have seen a3)."""
    select, insert = (
        sa.text("SELECT name FROM rlsdemo.items"),
        sa.text("INSERT INTO rlsdemo.items (tenant_id, name) VALUES (:t, :n)"),
    )
    async with db.snapshot_transaction(TENANT_A) as snapshot:
        first = sorted((await snapshot.execute(select)).scalars())
        async with db.transaction(TENANT_A) as other:
            await other.execute(insert, {"t": TENANT_A, "n": "a3"})
        second = sorted((await snapshot.execute(select)).scalars())
        assert first == second == ["a1", "a2"]
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await snapshot.execute(insert, {"t": TENANT_A, "n": "a4"})
    assert await names(db, TENANT_A) == ["a1", "a2", "a3"]


async def test_a_migrating_role_is_told_apart_by_whether_it_sees_every_tenant(db):
    """The test server's owner is a superuser: it migrates seeing every row. The app role
    (NOBYPASSRLS) stands for an owner without BYPASSRLS: migrate warns for such a role."""
    owner = db.owner_engine()
    try:
        async with owner.connect() as conn:
            assert await conn.run_sync(sees_every_row) is True
    finally:
        await owner.dispose()
    async with db.transaction(None) as session:
        connection = await session.connection()
        assert await connection.run_sync(sees_every_row) is False

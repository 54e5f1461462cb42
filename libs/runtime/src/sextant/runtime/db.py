"""PostgreSQL access: one schema per service, an owner connection for migrations and a
per-service application role that owns nothing and cannot bypass row-level security.

Tenant isolation has two walls: every query filters by tenant in the application, and
every tenant table has a FORCE'd RLS policy on ``sextant.tenant_id``, which
:meth:`Database.transaction` sets for the transaction only (``set_config(..., true)``).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

TENANT_SETTING = "sextant.tenant_id"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def identifier(name: str) -> str:
    """Check that a schema/role/table name is a plain lower-case SQL identifier."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def asyncpg_url(url: str) -> URL:
    """Normalise ``postgres://``/``postgresql://`` URLs to the asyncpg driver."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def plain_dsn(url: URL | str) -> str:
    """A libpq DSN (password included) for a bare asyncpg connection from a SQLAlchemy URL
    or its text: asyncpg refuses the ``postgresql+asyncpg://`` scheme SQLAlchemy needs."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def app_role_for(schema: str) -> str:
    """The login role a service's app connects as."""
    return identifier(f"{schema}_app")


def app_url(owner_url: str, schema: str, password: str) -> URL:
    """The app role's URL: same server and database as the owner's, another user."""
    return asyncpg_url(owner_url).set(username=app_role_for(schema), password=password)


_TRANSACTION_OPEN = "sextant.transaction_open"
_DRIVER = "sextant.driver_connection"  # (weak ref to the transaction, its connection)


async def set_tenant(
    session: AsyncSession, tenant_id: UUID, *, shared_lock: str | None = None
) -> None:
    """Scope the rest of the current transaction to one tenant (RLS reads this setting);
    with ``shared_lock``, also hold that advisory lock shared until it ends, in the same
    statement (the consumer's side of :mod:`sextant.runtime.tombstones`)."""
    if shared_lock is None:
        statement, values = "SELECT set_config(:name, :value, true)", {}
    else:
        statement = (
            "SELECT set_config(:name, :value, true),"
            " pg_advisory_xact_lock_shared(hashtextextended(:lock, 0))"
        )
        values = {"lock": shared_lock}
    await session.execute(
        text(statement), {"name": TENANT_SETTING, "value": str(tenant_id), **values}
    )
    session.info[_TRANSACTION_OPEN] = True


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``'s transaction, for hot paths where building
    a SQLAlchemy statement costs more than running it.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; a raw
    statement before that would run outside the transaction. So unless a SQLAlchemy
    statement already ran (:func:`set_tenant` marks it), one trivial statement runs first.

    It is looked up once per transaction: a lookup crosses into SQLAlchemy's greenlet
    twice (50-60 µs measured, a third of a small statement's round trip), and a hot path
    such as identity's attribution needs it several times an event. The transaction is
    held weakly: a strong reference from the session's info back to it would make every
    session a reference cycle, freed only by the garbage collector.
    """
    held = session.info.get(_DRIVER)
    if held is not None and held[0]() is session.sync_session.get_transaction():
        return held[1]
    if not session.info.get(_TRANSACTION_OPEN):
        await session.execute(text("SELECT 1"))
        session.info[_TRANSACTION_OPEN] = True
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    session.info[_DRIVER] = (weakref.ref(session.sync_session.get_transaction()), driver)
    return driver


async def _rollback_if_open(connection: asyncpg.Connection) -> None:
    """The driver pool's reset on release: transactions are the only state its users
    change (the tenant setting is transaction-local), so the usual reset query (advisory
    unlocks, UNLISTEN, RESET ALL: a round trip per release) is only needed when a
    cancelled caller left a transaction open."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class Database:
    """A service's engines: the app role's pool, and the owner's for migrations."""

    def __init__(
        self, owner_url: str, schema: str, *, app_password: str, pool_size: int = 5
    ) -> None:
        self.schema = identifier(schema)
        self.owner_url = asyncpg_url(owner_url)
        self.app_url = app_url(owner_url, schema, app_password)
        self._app_password = app_password
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._driver_pool: asyncpg.Pool | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database.start() has not run")
        return self._engine

    async def start(self) -> None:
        self._engine = create_async_engine(
            self.app_url,
            pool_size=self._pool_size,
            max_overflow=self._pool_size,
            pool_pre_ping=True,
            pool_recycle=1800,
        )
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    async def stop(self) -> None:
        if self._driver_pool is not None:
            await self._driver_pool.close()
            self._driver_pool = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def transaction(
        self, tenant_id: UUID | None = None, *, shared_lock: str | None = None
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work: begin, set the tenant for RLS (and take ``shared_lock``, see
        :func:`set_tenant`), yield, commit (rollback on error)."""
        if self._sessions is None:
            raise RuntimeError("Database.start() has not run")
        async with self._sessions() as session, session.begin():
            if tenant_id is not None:
                await set_tenant(session, tenant_id, shared_lock=shared_lock)
            yield session

    @asynccontextmanager
    async def snapshot_transaction(self, tenant_id: UUID) -> AsyncIterator[AsyncSession]:
        """A tenant's read-only transaction whose statements all see one snapshot
        (REPEATABLE READ), on one of the pool's connections: for a read of several
        statements that must agree (insights' DORA keys: the deployments, and the failures
        among them)."""
        async with self.transaction() as session:
            await session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            await set_tenant(session, tenant_id)
            yield session

    @asynccontextmanager
    async def driver_transaction(
        self, tenant_id: UUID | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """Like :meth:`transaction`, on a bare asyncpg connection, for the few paths that run
        thousands of times a second (the webhook writer, the outbox relay).

        A SQLAlchemy session's checkout ping, lazy BEGIN, tenant statement and reset on
        return are four round trips and more Python than the work; here BEGIN and the
        tenant setting go in one, and nothing else is added. The pool is this method's own,
        opened on first use, so services that never call it hold no extra connections."""
        begin = "BEGIN"
        if tenant_id is not None:  # a UUID's text is hex and dashes: safe to inline
            begin += f"; SELECT set_config('{TENANT_SETTING}', '{UUID(str(tenant_id))}', true)"
        async with self.driver() as connection:
            await connection.execute(begin)
            try:
                yield connection
            except BaseException:
                # A failed ROLLBACK (say, after a cancel mid-statement) must not hide the
                # error; the pool's reset rolls back or drops the connection on release.
                with suppress(Exception):
                    await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[asyncpg.Connection]:
        """A bare asyncpg connection of the driver pool, outside any transaction: for one
        statement that is its own transaction and sets the tenant itself (ingest's
        webhook writer). With no tenant set, RLS shows it no tenant's rows."""
        pool = await self._driver_pool_started()
        async with pool.acquire() as connection:
            yield connection

    async def _driver_pool_started(self) -> asyncpg.Pool:
        if self._driver_pool is None:
            if self._engine is None:
                raise RuntimeError("Database.start() has not run")
            pool = await asyncpg.create_pool(
                plain_dsn(self.app_url),
                min_size=1,
                max_size=self._pool_size,
                reset=_rollback_if_open,
            )
            if self._driver_pool is None:
                self._driver_pool = pool
            else:  # another caller opened one meanwhile
                await pool.close()
        return self._driver_pool

    async def ping(self) -> bool:
        """True when the database answers as the app role."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def owner_engine(self) -> AsyncEngine:
        """A short-lived engine as the owner, for migrations and bootstrap only."""
        return create_async_engine(self.owner_url, pool_size=1, max_overflow=0)

"""PostgreSQL access: one schema per service, an owner connection for migrations and a
per-service application role that owns nothing and cannot bypass row-level security.

Tenant isolation has two walls: every query filters by tenant in the application, and
every tenant table has a FORCE'd RLS policy on ``sextant.tenant_id``, which
:meth:`Database.transaction` sets for the transaction only (``set_config(..., true)``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

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


def app_role_for(schema: str) -> str:
    """The login role a service's app connects as."""
    return identifier(f"{schema}_app")


def app_url(owner_url: str, schema: str, password: str) -> URL:
    """The app role's URL: same server and database as the owner's, another user."""
    return asyncpg_url(owner_url).set(username=app_role_for(schema), password=password)


_TRANSACTION_OPEN = "sextant.transaction_open"


async def set_tenant(session: AsyncSession, tenant_id: UUID) -> None:
    """Scope the rest of the current transaction to one tenant (RLS reads this setting)."""
    await session.execute(
        text("SELECT set_config(:name, :value, true)"),
        {"name": TENANT_SETTING, "value": str(tenant_id)},
    )
    session.info[_TRANSACTION_OPEN] = True


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``'s transaction, for hot paths where building
    a SQLAlchemy statement costs more than running it.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; a raw
    statement before that would run outside the transaction. So unless a SQLAlchemy
    statement already ran (:func:`set_tenant` marks it), one trivial statement runs first.
    """
    if not session.info.get(_TRANSACTION_OPEN):
        await session.execute(text("SELECT 1"))
        session.info[_TRANSACTION_OPEN] = True
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


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
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID | None = None) -> AsyncIterator[AsyncSession]:
        """One unit of work: begin, set the tenant for RLS, yield, commit (rollback on error)."""
        if self._sessions is None:
            raise RuntimeError("Database.start() has not run")
        async with self._sessions() as session, session.begin():
            if tenant_id is not None:
                await set_tenant(session, tenant_id)
            yield session

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

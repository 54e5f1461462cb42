"""A database too busy to hand out a connection is an outage, not the event's fault: a
consumer retries it until the database has room again and never dead-letters the event
(an event dead-lettered for a busy pool is lost to every projection downstream)."""

import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sextant.runtime.db import asyncpg_url
from sextant.runtime.transient import is_transient


async def test_a_pool_with_no_connection_free_in_time_is_transient(database_url: str) -> None:
    url = asyncpg_url(database_url)
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(Exception) as waited:
                async with engine.connect():
                    pass
        assert "QueuePool limit" in str(waited.value)
        assert is_transient(waited.value)
    finally:
        await engine.dispose()


async def test_a_server_out_of_connections_is_transient(database_url: str) -> None:
    """SQLSTATE 53300 (too many connections), here for a role limited to none."""
    url = asyncpg_url(database_url)
    role, password = f"busy_{secrets.token_hex(4)}", secrets.token_hex(12)
    owner = create_async_engine(url)
    try:
        async with owner.begin() as conn:
            await conn.execute(
                text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0 PASSWORD '{password}'")
            )
        crowded = create_async_engine(url.set(username=role, password=password))
        try:
            with pytest.raises(Exception) as refused:
                async with crowded.connect():
                    pass
            assert "too many connections" in str(refused.value)
            assert is_transient(refused.value)
        finally:
            await crowded.dispose()
    finally:
        async with owner.begin() as conn:
            await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await owner.dispose()

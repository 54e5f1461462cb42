"""The embedded server is durable, and does not stall commits behind zero-filled WAL or\nbehind a checkpoint's fsync of a page cache full of evicted pages."""

import os

import asyncpg
import pytest

from sextant.runtime.db import plain_dsn


@pytest.mark.skipif("DATABASE_URL" in os.environ, reason="an external server has its own settings")
async def test_the_embedded_server_commits_durably_without_stalling_on_wal_or_checkpoints(
    postgres_url,
):
    dsn = plain_dsn(postgres_url)
    conn = await asyncpg.connect(dsn)
    try:
        settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in (
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "wal_init_zero",
                "backend_flush_after",
            )
        }
    finally:
        await conn.close()
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "wal_init_zero": "off",
        "backend_flush_after": "256kB",
    }

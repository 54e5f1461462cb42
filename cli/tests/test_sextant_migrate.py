"""`sextant migrate` brings every schema to head as the owner, and is idempotent."""

import asyncio
import os
import subprocess
import sys

import asyncpg
from alembic.script import ScriptDirectory

from sextant.cli.services import SERVICE_NAMES, spec_for
from sextant.runtime.db import plain_dsn
from sextant.runtime.migrations import alembic_config


def migrate(database_url: str, *services: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sextant.cli", "migrate", *services],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrate_creates_every_schema_once(database_url: str) -> None:
    first = await asyncio.to_thread(migrate, database_url)
    assert first.returncode == 0, first.stderr
    again = await asyncio.to_thread(migrate, database_url, "forecast")
    assert again.returncode == 0, again.stderr
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        for name in SERVICE_NAMES:
            spec = spec_for(name)
            head = ScriptDirectory.from_config(
                alembic_config(spec.migrations_dir, spec.schema)
            ).get_current_head()
            assert await conn.fetchval(f"SELECT version_num FROM {name}.alembic_version") == head
    finally:
        await conn.close()


async def test_migrate_refuses_an_unknown_service(database_url: str) -> None:
    result = await asyncio.to_thread(migrate, database_url, "nonesuch")
    assert result.returncode != 0
    assert "unknown service 'nonesuch'" in result.stderr

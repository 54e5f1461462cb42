"""`sextant ingest reseal`, run as an operator runs it after putting a new key first in
SEXTANT_INGEST_SECRET_KEYS, against a real database."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import asyncpg

from sextant.contracts import uuid7
from sextant.ingest.sealing import SecretBox
from sextant.runtime.db import plain_dsn

SEXTANT = [sys.executable, "-m", "sextant.cli"]
KEY_A, KEY_B, KEY_C = (os.urandom(32) for _ in range(3))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def reseal(database_url: str, keys: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SEXTANT_INGEST_SECRET_KEYS": keys}
    env.pop("SEXTANT_INGEST_SECRET_KEY", None)
    return subprocess.run(
        [*SEXTANT, "ingest", "reseal", "--batch-size", "2", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_dsn(database_url))


async def add_sources(database_url: str, box: SecretBox) -> list[UUID]:
    """Three sources of two tenants, sealed with ``box``'s current key, in id order."""
    ids = []
    conn = await connect(database_url)
    try:
        for tenant, count in ((uuid7(), 2), (uuid7(), 1)):
            for _ in range(count):
                source = uuid7()
                async with conn.transaction():
                    await conn.execute(
                        "SELECT set_config('sextant.tenant_id', $1, true)", str(tenant)
                    )
                    await conn.execute(
                        "INSERT INTO ingest.hook_routes VALUES ($1, $2)", source, tenant
                    )
                    await conn.execute(
                        "INSERT INTO ingest.sources (tenant_id, id, workspace_id, kind, name, "
                        "secret_sealed, credentials_sealed, mapping, created_at) "
                        "VALUES ($1, $2, $1, 'gitlab', 'a source', $3, $4, '{}', now())",
                        tenant,
                        source,
                        box.seal(f"secret-{source}", source),
                        box.seal(json.dumps({"token": "t"}), source),
                    )
                ids.append(source)
    finally:
        await conn.close()
    return ids


async def sealed_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await connect(database_url)
    try:  # as the test server's superuser, which sees every tenant's rows
        return list(
            await conn.fetch(
                "SELECT id, secret_sealed, credentials_sealed FROM ingest.sources ORDER BY id"
            )
        )
    finally:
        await conn.close()


def test_reseal_moves_every_tenant_s_sources_to_the_current_key(
    database_url: str, tmp_path: Path
) -> None:
    first = reseal(database_url, f"a:{b64(KEY_A)}", tmp_path)  # migrates; nothing to do
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "done: 0 sources, 0 values re-sealed"
    ids = asyncio.run(add_sources(database_url, SecretBox({"a": KEY_A}, "a")))

    rotated = reseal(database_url, f"b:{b64(KEY_B)},a:{b64(KEY_A)}", tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "2 sources looked at, 4 values re-sealed" in rotated.stderr
    assert "3 sources looked at, 6 values re-sealed" in rotated.stderr
    assert rotated.stdout.strip() == "done: 3 sources, 6 values re-sealed"
    only_b = SecretBox({"b": KEY_B}, "b")
    rows = asyncio.run(sealed_rows(database_url))
    assert [row["id"] for row in rows] == ids
    for row in rows:
        assert only_b.open(row["secret_sealed"], row["id"]) == f"secret-{row['id']}"
        assert json.loads(only_b.open(row["credentials_sealed"], row["id"])) == {"token": "t"}

    again = reseal(database_url, f"b:{b64(KEY_B)}", tmp_path)  # a removed: all is under b
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "done: 3 sources, 0 values re-sealed"

    lost = reseal(database_url, f"c:{b64(KEY_C)}", tmp_path)
    assert lost.returncode == 1
    assert f"source {ids[0]}: a sealed secret names key 'b', which is not configured" in (
        " ".join(lost.stderr.split())  # rich may wrap the line
    )

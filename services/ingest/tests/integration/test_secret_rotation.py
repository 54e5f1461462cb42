"""Keys that seal source secrets rotate on a running platform: old rows keep opening while
their key is configured, `reseal` moves every row to the current key, the old key can then
go; a row whose key is gone is the operator's 503 naming the key, never a 500. Rows sealed
before key ids existed are carried over by migration 0007."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from uuid import UUID

import pytest
from alembic import command
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, text

from sextant.contracts import uuid7
from sextant.ingest.db import MIGRATIONS, metadata
from sextant.ingest.mapping import MappingRules
from sextant.ingest.reseal import ResealProgress, reseal_sources
from sextant.ingest.service import ingest_of
from sextant.runtime.db import TENANT_SETTING
from sextant.runtime.migrations import alembic_config
from sextant.runtime.testing.plugin import InternalKeys

from ..fixtures.signing import sign
from .conftest import TENANT, WORKSPACE, Ingest, running_ingest

KEY_A, KEY_B, KEY_C = (os.urandom(32) for _ in range(3))
PUSH = b'{"object_kind": "push"}'


def keyring(**keys: bytes) -> str:
    return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in keys.items())


async def key_ids(ingest: Ingest) -> dict[UUID, tuple[bytes, bytes | None]]:
    """Each source's sealed values' headers (version, length, key id: here one letter)."""
    rows = await ingest.sql(
        "SELECT id, substring(secret_sealed from 1 for 3) AS s, "
        "substring(credentials_sealed from 1 for 3) AS c FROM ingest.sources ORDER BY id"
    )
    return {row["id"]: (row["s"], row["c"]) for row in rows}


async def deliver(ingest: Ingest, source: dict[str, str], delivery: str) -> int:
    response = await ingest.deliver(
        source, PUSH, sign("gitlab", source["secret"], PUSH, delivery=delivery)
    )
    return response.status_code


async def test_keys_rotate_and_reseal_moves_every_source_to_the_current_key(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEYS", keyring(a=KEY_A))
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        old = await ingest.source("gitlab", credentials={"token": "glpat-old"})

    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEYS", keyring(b=KEY_B, a=KEY_A))
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        new = await ingest.source("gitlab")
        assert await deliver(ingest, old, "old-1") == 202  # sealed with a, which is kept
        assert await key_ids(ingest) == {
            UUID(old["id"]): (b"\x01\x01a", b"\x01\x01a"),
            UUID(new["id"]): (b"\x01\x01b", None),
        }
        seen: list[tuple[int, int]] = []

        def progress(done: ResealProgress) -> None:
            seen.append((done.sources, done.resealed))

        box = ingest_of(ingest.state).box
        await reseal_sources(ingest.state.db, box, batch_size=1, progress=progress)
        assert seen == [(1, 2), (2, 2)]  # old (secret and credentials), then new (already b)
        again = await reseal_sources(ingest.state.db, box)
        assert (again.sources, again.resealed) == (2, 0)
        assert await key_ids(ingest) == {
            UUID(old["id"]): (b"\x01\x01b", b"\x01\x01b"),
            UUID(new["id"]): (b"\x01\x01b", None),
        }

    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEYS", keyring(b=KEY_B))
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        assert await deliver(ingest, old, "old-2") == 202
        assert await deliver(ingest, new, "new-1") == 202
        [row] = await ingest.sql(
            "SELECT credentials_sealed FROM ingest.sources WHERE id = $1", UUID(old["id"])
        )
        opened = ingest_of(ingest.state).box.open(row["credentials_sealed"], UUID(old["id"]))
        assert json.loads(opened) == {"token": "glpat-old"}

    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEYS", keyring(c=KEY_C))
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        refused = await ingest.deliver(
            old, PUSH, sign("gitlab", old["secret"], PUSH, delivery="old-3")
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["key_id"] == "b"
        assert f"source {old['id']}'s secrets are sealed with key 'b'" in problem["detail"]
        backfill = await ingest.client.post(
            f"/v1/sources/{old['id']}/backfill",
            json={"since": "2026-01-01T00:00:00Z"},
            headers=ingest.as_role("tenant_admin"),
        )
        assert backfill.status_code == 503 and backfill.json()["key_id"] == "b"
        # a later delivery still asks for the key: a failed open is not cached
        assert await deliver(ingest, old, "old-4") == 503


def downgrade(sync: Connection) -> None:
    """Ingest's schema down to revision 0006 (before key ids), on the owner's connection."""
    config = alembic_config(MIGRATIONS, "ingest")
    config.attributes.update(connection=sync, metadata=metadata, schema="ingest")
    command.downgrade(config, "0006")


async def test_rows_sealed_before_key_ids_open_after_migration_0007(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEY", base64.b64encode(KEY_A).decode())
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        engine = ingest.state.db.owner_engine()
    # A row as the code before 0007 wrote it: nonce | AES-GCM(secret, AAD = source id).
    source_id, nonce, secret = uuid7(), os.urandom(12), "an-old-gitlab-secret"
    sealed = nonce + AESGCM(KEY_A).encrypt(nonce, secret.encode(), source_id.bytes)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
            await conn.execute(
                text("SELECT set_config(:name, :tenant, true)"),
                {"name": TENANT_SETTING, "tenant": str(TENANT)},
            )
            await conn.execute(
                text("INSERT INTO ingest.hook_routes VALUES (:id, :tenant)"),
                {"id": source_id, "tenant": TENANT},
            )
            await conn.execute(
                text(
                    "INSERT INTO ingest.sources (tenant_id, id, workspace_id, kind, name, "
                    "secret_sealed, mapping, created_at) VALUES (:tenant, :id, :ws, 'gitlab', "
                    "'old', :sealed, CAST(:mapping AS jsonb), now())"
                ),
                {
                    "tenant": TENANT,
                    "id": source_id,
                    "ws": WORKSPACE,
                    "sealed": sealed,
                    "mapping": json.dumps(MappingRules().model_dump()),
                },
            )
    finally:
        await engine.dispose()

    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:  # migrates
        [row] = await ingest.sql("SELECT secret_sealed FROM ingest.sources")
        assert bytes(row["secret_sealed"]) == b"\x00" + sealed
        assert await deliver(ingest, {"id": str(source_id), "secret": secret}, "legacy-1") == 202

    # rotating away from k0: reseal moves the row to the new key, then k0 can go
    monkeypatch.setenv("SEXTANT_INGEST_SECRET_KEYS", keyring(k1=KEY_B))
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        done = await reseal_sources(ingest.state.db, ingest_of(ingest.state).box)
        assert (done.sources, done.resealed) == (1, 1)
    monkeypatch.delenv("SEXTANT_INGEST_SECRET_KEY")
    async with running_ingest(database_url, internal_keys, tmp_path) as ingest:
        [row] = await ingest.sql(
            "SELECT substring(secret_sealed from 1 for 4) AS h FROM ingest.sources"
        )
        assert row["h"] == b"\x01\x02k1"
        assert await deliver(ingest, {"id": str(source_id), "secret": secret}, "legacy-2") == 202
        engine = ingest.state.db.owner_engine()
    try:  # the code before 0007 could not open a row that names its key: no downgrade
        async with engine.begin() as conn:
            with pytest.raises(RuntimeError, match="sealed with a key id exist"):
                await conn.run_sync(downgrade)
    finally:
        await engine.dispose()

"""`sextant archive verify` over real HTTP against the archive service: exit 0 when the
cold store is intact, exit 1 naming the first bad object when it is not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from sextant.archive import coldstore
from sextant.archive.main import SPEC
from sextant.archive.settings import ArchiveSettings
from sextant.cli.main import app
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import ConfigChanged
from sextant.contracts.topics import CONFIG, entity_key
from sextant.runtime.app import ServiceState, create_service_app
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import served, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus


async def sextant(*args: str) -> Result:
    """The command run as a user runs it; in a thread, so the service keeps answering."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def test_archive_verify_exits_1_naming_the_first_bad_object(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant = uuid7()
    settings = service_settings(database_url, internal_keys)
    store = FolderObjectStore(tmp_path / "objects")
    service = create_service_app(
        SPEC,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=store,
        configure_logs=False,
    )
    days = [datetime(2026, 3, d, 12, 0, tzinfo=UTC) for d in (1, 2)]
    envelopes = [
        Envelope.wrap(
            ConfigChanged(
                actor="a", action="workspace.create", target_type="workspace", target_id="w"
            ),
            source="/sextant/gateway",
            tenantid=tenant,
        ).model_copy(update={"time": at})
        for at in days
    ]
    admin = internal_keys.signer.mint(
        service="archive", subject="admin-1", role="tenant_admin", tenant_id=tenant
    )
    dsn = plain_dsn(database_url)
    async with served(service) as url:
        state: ServiceState = service.state.service
        await state.bus.publish(
            [record_for(e, CONFIG.name, entity_key(tenant, None, "w")) for e in envelopes]
        )
        conn = await asyncpg.connect(dsn)
        try:
            async with asyncio.timeout(30):
                while await conn.fetchval("SELECT count(*) FROM archive.staged_events") < 2:
                    await asyncio.sleep(0.05)
        finally:
            await conn.close()
        later = datetime.now(UTC) + timedelta(days=1)
        assert await coldstore.flush_due(state, ArchiveSettings(), later) == 2

        intact = await sextant("archive", "verify", "--url", url, "--token", admin)
        assert intact.exit_code == 0, intact.output
        assert "intact: 2 objects, 2 events" in intact.output

        first_key = f"tenant={tenant}/topic=sextant.config/day=2026-03-01/part-00001.parquet"
        await store.delete(first_key)
        broken = await sextant("archive", "verify", "--url", url, "--token", admin)
        assert broken.exit_code == 1
        assert f"first bad object: {first_key}" in " ".join(broken.output.split())


async def test_archive_restore_follows_the_restore_to_its_end(
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_ARCHIVE_RESTORE_CHECK_SECONDS", "0.1")  # no 2 s waits
    tenant = uuid7()
    settings = service_settings(database_url, internal_keys)
    service = create_service_app(
        SPEC,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=FolderObjectStore(tmp_path / "objects"),
        configure_logs=False,
    )
    admin = internal_keys.signer.mint(
        service="archive", subject="admin-1", role="tenant_admin", tenant_id=tenant
    )
    async with served(service) as url:
        done = await sextant(
            "archive", "restore", "--topic", "sextant.identity",
            "--since", "2026-03-01T00:00:00Z", "--until", "2026-03-02T00:00:00Z",
            "--url", url, "--token", admin,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "restored: 0 objects, 0 events published again" in done.output
        refused = await sextant(
            "archive", "restore", "--topic", "sextant.config",
            "--since", "2026-03-01T00:00:00Z", "--until", "2026-03-02T00:00:00Z",
            "--url", url, "--token", admin,
        )  # fmt: skip
        assert refused.exit_code == 1 and "topics" in refused.output

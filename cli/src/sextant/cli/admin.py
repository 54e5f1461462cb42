"""``sextant tenant create``, ``sextant token create``, ``sextant audit verify`` and
``sextant ingest reseal``: run a
platform from the command line, against the embedded stack's database (``DATABASE_URL``
when set).

They share the gateway's own code: a tenant is created by the gateway's use case (so it
is audited through the outbox, published when the platform runs), and a token is signed
by the same local issuer key ``sextant run`` uses."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.cli.embedded import CannotStart, claim_data_folder
from sextant.gateway import service
from sextant.gateway.authn import PublicRole, ensure_local_issuer
from sextant.gateway.db import MIGRATIONS, metadata, repository, spine
from sextant.gateway.domain.audit import ChainBreak, Checkpoint, verify_chain
from sextant.ingest import db as ingest_db
from sextant.ingest.reseal import ResealProgress, reseal_sources
from sextant.ingest.sealing import secret_box
from sextant.ingest.settings import IngestSettings
from sextant.runtime.db import Database
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.migrations import migrate
from sextant.runtime.outbox import Outbox
from sextant.runtime.settings import RuntimeSettings


def configured_url() -> str | None:
    """``DATABASE_URL`` (a distributed platform's database), else None: the embedded one."""
    return os.environ.get("DATABASE_URL") or os.environ.get("SEXTANT_DATABASE_URL")


def gateway_database(data_dir: Path) -> contextlib.AbstractAsyncContextManager[Database]:
    """The gateway's database, migrated (see :func:`service_database`)."""
    return service_database(data_dir, "gateway", MIGRATIONS, metadata)


@asynccontextmanager
async def service_database(
    data_dir: Path, schema: str, migrations: Path, tables: MetaData
) -> AsyncIterator[Database]:
    """A service's database, migrated: ``DATABASE_URL``, else the embedded server under
    ``data_dir`` (started for the command and stopped after, unless it was running)."""
    url = configured_url()
    with contextlib.ExitStack() as held:
        postgres: EmbeddedPostgres | None = None
        started_here = False
        if not url:
            postgres = EmbeddedPostgres(data_dir / "postgres")
            started_here = _claim_or_share(held, data_dir, postgres)
            url = await asyncio.to_thread(postgres.start)
        settings = RuntimeSettings(database_url=url)
        db = Database(url, schema, app_password=settings.app_role_password.get_secret_value())
        try:
            await migrate(db, migrations, tables)
            await db.start()
            yield db
        finally:
            await db.stop()
            if postgres is not None and started_here:
                await asyncio.to_thread(postgres.stop)


def _claim_or_share(held: contextlib.ExitStack, data_dir: Path, postgres: EmbeddedPostgres) -> bool:
    """Whether this command starts (and so stops) the folder's server. It holds the data
    folder as a run does while it works, so a `sextant run` starting meanwhile waits its
    turn instead of stopping the server under it; with a live run it uses the run's
    server and never stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        held.enter_context(claim_data_folder(data_dir, "nothing (a sextant admin command)"))
    except CannotStart:
        if not postgres.running():
            raise CannotStart(
                f"a `sextant run` is starting on {data_dir}: try again once it is ready"
            ) from None
        return False
    return not postgres.running()


async def create_tenant(data_dir: Path, name: str) -> UUID:
    async with gateway_database(data_dir) as db, db.transaction() as session:
        outbox = Outbox(spine.outbox, source="/sextant/gateway")
        row = await service.create_tenant(session, outbox, name, actor="cli")
    return row.id


async def create_token(
    data_dir: Path, tenant_id: UUID | None, role: PublicRole, subject: str, ttl_seconds: int
) -> str:
    """A local-issuer token; the tenant must exist and not be deleted."""
    if role == "platform_admin":
        tenant_id = None
    elif tenant_id is None:
        raise ValueError(f"a {role} token needs --tenant")
    else:
        async with gateway_database(data_dir) as db, db.transaction() as session:
            tenant = await repository.get_tenant(session, tenant_id)
        if tenant is None or tenant.deleted_at is not None:
            raise ValueError(f"no tenant {tenant_id} (or it is deleted)")
    issuer = ensure_local_issuer(data_dir)
    return issuer.mint(subject=subject, role=role, tenant_id=tenant_id, ttl_seconds=ttl_seconds)


async def verify_audit(
    data_dir: Path,
) -> list[tuple[UUID, int, ChainBreak | None, Checkpoint | None]]:
    """Every audit chain, recomputed as the database owner (who sees all tenants), from
    its checkpoint once its oldest rows were purged: (tenant, rows, the first break or
    None, the checkpoint or None)."""
    async with gateway_database(data_dir) as db:
        engine = db.owner_engine()
        try:
            async with AsyncSession(engine) as session, session.begin():
                results = []
                for tenant in await repository.audit_tenants(session):
                    rows, head = await repository.audit_chain(session, tenant)
                    start = await repository.audit_checkpoint(session, tenant)
                    chained = ((r.entry, r.prev_hash, r.hash) for r in rows)
                    broken = verify_chain(chained, head, start)
                    results.append((tenant, len(rows), broken, start))
                return results
        finally:
            await engine.dispose()


async def reseal_ingest_secrets(
    data_dir: Path, batch_size: int, progress: Callable[[ResealProgress], None]
) -> ResealProgress:
    """Every source's secrets sealed again with ingest's current key (its settings: the
    embedded key file too, without ``DATABASE_URL``)."""
    box = secret_box(IngestSettings(), data_dir, shared=configured_url() is not None)
    async with service_database(
        data_dir, ingest_db.SCHEMA, ingest_db.MIGRATIONS, ingest_db.metadata
    ) as db:
        return await reseal_sources(db, box, batch_size=batch_size, progress=progress)

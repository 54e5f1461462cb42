"""The retention purge of finished commit lists, EXPLAINed on ~50k lists before and after
ingest's migration 0012 (its index on the finished lists' tenant and time).

    .venv/bin/python services/ingest/bench/explain_commit_list_purge.py [--lists 50000]
        [--tenants 10]

An embedded PostgreSQL migrated to 0011 holds ``--lists`` commit lists spread over
``--tenants`` tenants and the past year (one in ten still pending, so unfinished). The
purge the archive asks for one object of one tenant's ``raw_deliveries`` (a week's range)
runs through ingest's own purger in a transaction rolled back, its statements captured; the
one deleting from ``commit_lists`` is then run under ``EXPLAIN (ANALYZE, BUFFERS)`` and
rolled back too. Then the schema goes to 0012 and the same again. The owner (a superuser)
runs it, so row-level security adds no predicate: the app role's adds ``tenant_id = …``,
which the index serves the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from sextant.contracts.events.platform import PurgeRequested
from sextant.ingest.main import SPEC
from sextant.ingest.retention import PURGER
from sextant.runtime.db import asyncpg_url
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.migrations import alembic_config

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SEED = """
INSERT INTO ingest.commit_lists (tenant_id, id, source_id, delivery_id, repository, number,
    status, attempts, commit_shas, created_at, updated_at, finished_at)
SELECT t.id, gen_random_uuid(), t.source, gen_random_uuid(), 'acme/app', n, s.status, 1,
       '{}', s.at, s.at, CASE WHEN s.status = 'pending' THEN NULL ELSE s.at END
FROM generate_series(1, :per_tenant) AS n,
     unnest(CAST(:tenants AS uuid[]), CAST(:sources AS uuid[])) AS t(id, source),
     LATERAL (SELECT CASE WHEN n % 10 = 0 THEN 'pending' ELSE 'listed' END AS status,
                     CAST(:now AS timestamptz) - (n * interval '1 year') / :per_tenant AS at) s
"""


def upgrade(conn: sa.Connection, revision: str) -> None:
    config = alembic_config(SPEC.migrations_dir, SPEC.schema)
    config.attributes.update(connection=conn, metadata=SPEC.metadata, schema=SPEC.schema)
    command.upgrade(config, revision)


async def purge_plan(conn: AsyncConnection, tenant: uuid.UUID) -> str:
    """The plan of the purge's delete from ``commit_lists`` (both run, then rolled back;
    called outside a transaction)."""
    request = PurgeRequested(
        manifest_id=uuid.uuid4(),
        data_class="raw_deliveries",
        not_before=NOW - timedelta(days=100),
        older_than=NOW - timedelta(days=93),
    )
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sync_engine = conn.engine.sync_engine
    sa.event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        async with conn.begin() as attempt:
            deleted = await PURGER.delete(AsyncSession(bind=conn), tenant, request)
            await attempt.rollback()
    finally:
        sa.event.remove(sync_engine, "before_cursor_execute", capture)
    [(statement, parameters)] = [
        s for s in seen if s[0].startswith("DELETE FROM ingest.commit_lists ")
    ]
    async with conn.begin() as explained:
        result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        plan = "\n".join(row[0] for row in result)
        await explained.rollback()
    return f"the purge deletes {deleted} rows\n{plan}"


async def main(lists: int, tenants: int) -> None:
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="sextant-explain-")))
    engine = create_async_engine(asyncpg_url(pg.start()))
    try:
        ids = [uuid.uuid4() for _ in range(tenants)]
        async with engine.connect() as conn:
            await conn.execute(sa.text("CREATE SCHEMA ingest"))
            await conn.run_sync(upgrade, "0011")
            await conn.execute(
                sa.text(SEED),
                {
                    "per_tenant": lists // tenants,
                    "tenants": ids,
                    "sources": [uuid.uuid4() for _ in ids],
                    "now": NOW,
                },
            )
            await conn.commit()
            for revision in ("0011", "0012"):
                await conn.run_sync(upgrade, revision)
                await conn.commit()
                await conn.execute(sa.text("ANALYZE ingest.commit_lists"))
                count = await conn.scalar(sa.text("SELECT count(*) FROM ingest.commit_lists"))
                await conn.commit()
                plan = await purge_plan(conn, ids[0])
                print(f"--- at {revision}: {count} commit lists, {tenants} tenants; {plan}\n")
    finally:
        await engine.dispose()
        pg.destroy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.lists, args.tenants))

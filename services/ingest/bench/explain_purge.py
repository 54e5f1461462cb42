"""Ingest's retention purges EXPLAINed: a week's ``raw_deliveries`` purge of one tenant
(its deliveries and finished commit lists) and that tenant's own purge, on one database
at each of the ``--revisions`` in turn (default: before ingest's migration 0012, the
finished lists' index on tenant and time, after it, and after 0013, the deliveries').

    .venv/bin/python services/ingest/bench/explain_purge.py [--deliveries 200000]
        [--lists 50000] [--tenants 20] [--sources 3] [--body-bytes 500]
        [--revisions 0011 0012 0013] [--full]

An embedded PostgreSQL migrated to the first revision holds ``--tenants`` tenants of
``--sources`` sources each, ``--deliveries`` deliveries (bodies of ``--body-bytes``) and
``--lists`` commit lists (one in ten still pending, so unfinished) spread over them and the
past year. Each purge runs through ingest's own purger in a transaction rolled back, its
statements captured; those deleting from ``deliveries`` or ``commit_lists`` then run
again in order under ``EXPLAIN (ANALYZE, BUFFERS)`` and are rolled back too. The owner (a
superuser) runs it, so row-level security adds no predicate: the app role's adds
``tenant_id = …``, which the indexes serve the same way.
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
SUMMARY = ("Scan", "Rows Removed", "Index Cond", "Execution Time")
PURGED = ("DELETE FROM ingest.deliveries ", "DELETE FROM ingest.commit_lists ")
SOURCES = """
INSERT INTO ingest.sources (tenant_id, id, workspace_id, kind, name, secret_sealed,
    mapping, created_at)
SELECT t.id, gen_random_uuid(), t.id, 'github', 'acme', '\\x00', '{}', CAST(:now AS timestamptz)
FROM unnest(CAST(:tenants AS uuid[])) AS t(id), generate_series(1, :per_tenant)
"""
DELIVERIES = """
INSERT INTO ingest.deliveries (tenant_id, id, source_id, delivery_id, event, received_at,
    body, body_codec, outcome, event_count)
SELECT s.tenant_id, gen_random_uuid(), s.id, n::text, 'push',
       CAST(:now AS timestamptz) - (n * interval '1 year') / :per_source,
       decode(repeat('ab', :body_bytes), 'hex'), 'zlib', 'normalized', 1
FROM ingest.sources AS s, generate_series(1, :per_source) AS n
"""
LISTS = """
INSERT INTO ingest.commit_lists (tenant_id, id, source_id, delivery_id, repository, number,
    status, attempts, commit_shas, created_at, updated_at, finished_at)
SELECT s.tenant_id, gen_random_uuid(), s.id, gen_random_uuid(), 'acme/app', n, c.status, 1,
       '{}', c.at, c.at, CASE WHEN c.status = 'pending' THEN NULL ELSE c.at END
FROM ingest.sources AS s, generate_series(1, :per_source) AS n,
     LATERAL (SELECT CASE WHEN n % 10 = 0 THEN 'pending' ELSE 'listed' END AS status,
                     CAST(:now AS timestamptz) - (n * interval '1 year') / :per_source AS at) c
"""


def upgrade(conn: sa.Connection, revision: str) -> None:
    config = alembic_config(SPEC.migrations_dir, SPEC.schema)
    config.attributes.update(connection=conn, metadata=SPEC.metadata, schema=SPEC.schema)
    command.upgrade(config, revision)


async def plans(
    conn: AsyncConnection, tenant: uuid.UUID, request: PurgeRequested, full: bool
) -> str:
    """The plans of the purge's deletes from deliveries and commit lists: the purge runs,
    is rolled back, and its statements run again in order under EXPLAIN ANALYZE (each as
    it met the rows its predecessors left), rolled back too; called outside a transaction.
    Each plan is shown by its scans and totals unless ``full``."""
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith(PURGED):
            seen.append((statement, parameters))

    sync_engine = conn.engine.sync_engine
    sa.event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        async with conn.begin() as attempt:
            deleted = await PURGER.delete(AsyncSession(bind=conn), tenant, request)
            await attempt.rollback()
    finally:
        sa.event.remove(sync_engine, "before_cursor_execute", capture)
    shown = [f"the purge deletes {deleted} rows"]
    async with conn.begin() as explained:
        for statement, parameters in seen:
            result = await conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
            )
            lines = [row[0] for row in result]
            if not full:
                top = lines[1].strip()
                lines = [line for line in lines if any(k in line for k in SUMMARY)]
                lines.insert(0, top)
            shown += [statement.split(" WHERE ")[0], *lines]
        await explained.rollback()
    return "\n".join(shown)


async def main(args: argparse.Namespace) -> None:
    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="sextant-explain-")))
    engine = create_async_engine(asyncpg_url(pg.start()))
    week = PurgeRequested(
        manifest_id=uuid.uuid4(),
        data_class="raw_deliveries",
        not_before=NOW - timedelta(days=100),
        older_than=NOW - timedelta(days=93),
    )
    scope = PurgeRequested(manifest_id=uuid.uuid4(), older_than=NOW, scope="tenant")
    try:
        ids = [uuid.uuid4() for _ in range(args.tenants)]
        sources = args.tenants * args.sources
        async with engine.connect() as conn:
            await conn.execute(sa.text("CREATE SCHEMA ingest"))
            await conn.run_sync(upgrade, args.revisions[0])
            seeds = {"now": NOW, "tenants": ids, "per_tenant": args.sources}
            await conn.execute(sa.text(SOURCES), seeds)
            await conn.execute(
                sa.text(DELIVERIES),
                {**seeds, "per_source": args.deliveries // sources, "body_bytes": args.body_bytes},
            )
            await conn.execute(sa.text(LISTS), {**seeds, "per_source": args.lists // sources})
            await conn.commit()
            for revision in args.revisions:
                await conn.run_sync(upgrade, revision)
                await conn.commit()
                await conn.execute(sa.text("ANALYZE ingest.deliveries"))
                await conn.execute(sa.text("ANALYZE ingest.commit_lists"))
                await conn.execute(sa.text("ANALYZE ingest.sources"))
                size = await conn.scalar(
                    sa.text(
                        "SELECT pg_size_pretty(pg_relation_size('ingest.deliveries')) || ', its"
                        " indexes ' || pg_size_pretty(pg_indexes_size('ingest.deliveries'))"
                    )
                )
                await conn.commit()
                print(f"=== at {revision}: {args.tenants} tenants, deliveries' heap {size}")
                for name, request in (("a week's raw_deliveries", week), ("the tenant's", scope)):
                    print(f"--- {name} purge: {await plans(conn, ids[0], request, args.full)}\n")
    finally:
        await engine.dispose()
        pg.destroy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--lists", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--sources", type=int, default=3, help="per tenant")
    parser.add_argument("--body-bytes", type=int, default=500)
    parser.add_argument("--revisions", nargs="+", default=["0011", "0012", "0013"])
    parser.add_argument("--full", action="store_true", help="whole plans")
    asyncio.run(main(parser.parse_args()))

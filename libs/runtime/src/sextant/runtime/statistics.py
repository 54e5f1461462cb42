"""The planner's statistics of tables that grow fast, kept up by the app itself.

A fresh tenant or a rebuild fills a table in seconds, before autovacuum's first look (a
minute apart by default), and statements planned from a table never analyzed (or analyzed
nearly empty) take a scan for an index probe. So a service analyzes a table once it holds
twice the rows its statistics say (at least ``floor``: below, any plan is quick): a table
analyzed about log2(rows) times while it grows, and never once autovacuum keeps up (it
analyzes after a tenth more rows).

The app role may analyze only with PostgreSQL 17's MAINTAIN privilege (a service's
migration grants it with :func:`sextant.runtime.migrations.grant_maintain`); on an older
server the rule picks no table and autovacuum alone keeps the statistics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.runtime.db import identifier

FACTOR = 2
FLOOR = 200

# The tables that outgrew their statistics (the statistics collector's live rows against the
# planner's pg_class.reltuples, -1 while never analyzed) and that this role may analyze.
_GROWN = sa.text(
    """
SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
 WHERE s.schemaname = :schema AND s.relname = ANY(:tables)
   AND s.n_live_tup >= :floor AND s.n_live_tup > :factor * greatest(c.reltuples, 0)
   AND CASE WHEN current_setting('server_version_num')::int >= 170000
            THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END
 ORDER BY s.relname
"""
)


async def analyze_grown(
    session: AsyncSession,
    schema: str,
    tables: Sequence[str],
    factor: float = FACTOR,
    floor: int = FLOOR,
) -> list[str]:
    """Analyze those of ``tables`` that outgrew their statistics; their names."""
    params = {"schema": schema, "tables": list(tables), "floor": floor, "factor": factor}
    grown = list(await session.scalars(_GROWN, params))
    for table in grown:
        await session.execute(sa.text(f"ANALYZE {identifier(schema)}.{identifier(table)}"))
    return grown


class ThrottledAnalyze:
    """:func:`analyze_grown` at most once every ``seconds`` (per process): for a path that
    runs per event, where the check itself (one catalog query) would cost too much."""

    def __init__(
        self,
        schema: str,
        tables: Sequence[str],
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schema, self.tables, self.seconds, self.clock = schema, tuple(tables), seconds, clock
        self.next_at = float("-inf")

    async def __call__(self, session: AsyncSession) -> list[str]:
        """The tables analyzed now (none while the last check is recent)."""
        now = self.clock()
        if now < self.next_at:
            return []
        self.next_at = now + self.seconds
        return await analyze_grown(session, self.schema, self.tables)

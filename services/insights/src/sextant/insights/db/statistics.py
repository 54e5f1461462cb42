"""The planner's statistics of the tables the day recompute reads, kept up with their growth
by the worker (day_worker.py) before each round's recompute.

A rebuild fills these tables in seconds, before autovacuum's first look (a minute apart by
default). Planned from a table never analyzed, the recompute takes ``tenant_id = $1`` for
selective and its per-(developer, day) subqueries scan every review and change request of
the tenant through a key on the tenant alone, instead of the reviewer's or author's index:
1.8 s instead of 0.2 s for 1,200 days at 10 developers. So the worker analyzes a table once
it holds twice the rows its statistics say (at least ``FLOOR``: below, any plan is quick):
a table analyzed about log2(rows) times while it grows, and never once autovacuum keeps up
(it analyzes after a tenth more rows).

The app role may analyze only with PostgreSQL 17's MAINTAIN privilege (migration 0016);
on an older server the rule picks no table and autovacuum alone keeps the statistics.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import change_requests, commits, developer_day_rows, reviews

TABLES = tuple(t.name for t in (commits, change_requests, reviews, developer_day_rows))
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


async def analyze_grown(session: AsyncSession) -> list[str]:
    """Analyse the recompute's tables that outgrew their statistics; their names."""
    schema = reviews.schema
    grown = list(
        await session.scalars(
            _GROWN,
            {"schema": schema, "tables": list(TABLES), "floor": FLOOR, "factor": FACTOR},
        )
    )
    for table in grown:
        await session.execute(sa.text(f'ANALYZE "{schema}"."{table}"'))
    return grown

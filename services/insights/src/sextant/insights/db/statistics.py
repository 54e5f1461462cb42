"""The tables the day recompute reads, kept up with their growth by the worker
(day_worker.py) before each round's recompute, by the runtime's rule
(:mod:`sextant.runtime.statistics`: analyzed once they hold twice the rows their
statistics say; the app role may with migration 0016's MAINTAIN, on PostgreSQL 17).

A rebuild fills these tables before autovacuum's first look. Planned from a table never
analyzed, the recompute takes ``tenant_id = $1`` for selective and its per-(developer, day)
subqueries scan every review and change request of the tenant through a key on the tenant
alone, instead of the reviewer's or author's index: 1.8 s instead of 0.2 s for 1,200 days
at 10 developers.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import SCHEMA, change_requests, commits, developer_day_rows, reviews
from sextant.runtime import statistics

TABLES = tuple(t.name for t in (commits, change_requests, reviews, developer_day_rows))


async def analyze_grown(session: AsyncSession) -> list[str]:
    """Analyze the recompute's tables that outgrew their statistics; their names."""
    return await statistics.analyze_grown(session, SCHEMA, TABLES)

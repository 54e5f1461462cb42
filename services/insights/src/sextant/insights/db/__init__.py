"""Insights's tables (schema ``insights``).

The outbox and inbox are here from the start; metrics, per-developer history,
suggestions and their feedback come with the insights issue.
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "insights"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

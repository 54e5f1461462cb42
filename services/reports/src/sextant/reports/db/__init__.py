"""Reports's tables (schema ``reports``).

The outbox and inbox are here from the start; report definitions, jobs, schedules and
rendered files come with the reports issue.
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "reports"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

"""Archive's tables (schema ``archive``).

The outbox and inbox are here from the start; retention policies, cold-store manifests
and legal holds come with the archive issue.
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "archive"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

"""Identity's tables (schema ``identity``).

The outbox and inbox are here from the start; developers, aliases, merge/split history
and team memberships come with the identity issue (#5).
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

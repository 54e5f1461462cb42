"""Gateway's tables (schema ``gateway``).

The outbox and inbox are here from the start; tenants, workspaces, views, users and
roles, API keys and the audit log come with the gateway issue (#3).
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "gateway"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

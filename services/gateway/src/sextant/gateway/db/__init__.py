"""Gateway's tables (schema ``gateway``): tenants, workspaces, views, users and roles, API keys, the audit log come with the gateway issue (#3);
the outbox and inbox are here from the start."""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "gateway"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

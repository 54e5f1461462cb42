"""Ingest's tables (schema ``ingest``).

The outbox and inbox are here from the start; source connections and their secrets, raw
deliveries and backfill jobs come with the ingest issue (#4).
"""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "ingest"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

"""Forecast's tables (schema ``forecast``). Work items, sprints and history come with the
forecast issue; the outbox and inbox are here from the start."""

from pathlib import Path

from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "forecast"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

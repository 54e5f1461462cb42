"""The app role may analyze the tables the day recompute reads (PostgreSQL 17's MAINTAIN
privilege): the worker analyzes them when a rebuild outgrows their statistics
(db/statistics.py). An older server grants nothing; autovacuum alone analyzes them there.
MAINTAIN also lets the role vacuum, reindex, cluster and lock these tables: none of it
changes what a row says or who may read it (RLS stays forced).

Revision ID: 0016
Revises: 0015
"""

from alembic import context, op

from sextant.runtime.db import app_role_for

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("commits", "change_requests", "reviews", "developer_days")


def _on_17_or_later(statement: str) -> None:
    op.execute(
        "DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 THEN "
        f"EXECUTE '{statement}'; END IF; END $$"
    )


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    tables = ", ".join(f"{schema}.{t}" for t in TABLES)
    _on_17_or_later(f"GRANT MAINTAIN ON {tables} TO {app_role_for(schema)}")


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    tables = ", ".join(f"{schema}.{t}" for t in TABLES)
    _on_17_or_later(f"REVOKE MAINTAIN ON {tables} FROM {app_role_for(schema)}")

"""The app role may analyze the tables the day recompute reads (PostgreSQL 17's MAINTAIN
privilege): the worker analyzes them when a rebuild outgrows their statistics
(db/statistics.py). An older server grants nothing; autovacuum alone analyzes them there.
MAINTAIN also lets the role vacuum, reindex, cluster and lock these tables: none of it
changes what a row says or who may read it (RLS stays forced).

Revision ID: 0016
Revises: 0015
"""

from alembic import context, op

from sextant.runtime.migrations import grant_maintain, revoke_maintain

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("commits", "change_requests", "reviews", "developer_days")


def upgrade() -> None:
    grant_maintain(op, context.config.attributes["schema"], TABLES)


def downgrade() -> None:
    revoke_maintain(op, context.config.attributes["schema"], TABLES)

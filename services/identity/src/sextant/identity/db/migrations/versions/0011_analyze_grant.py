"""The app role may analyze the tables attribution's read plans from (PostgreSQL 17's
MAINTAIN privilege): the consumer analyzes them when they outgrow their statistics
(handlers.STATISTICS). An older server grants nothing; autovacuum alone analyzes them.

Revision ID: 0011
Revises: 0010
"""

from alembic import context, op

from sextant.runtime.migrations import grant_maintain, revoke_maintain

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("aliases", "developers", "alias_keys", "name_tokens")


def upgrade() -> None:
    grant_maintain(op, context.config.attributes["schema"], TABLES)


def downgrade() -> None:
    revoke_maintain(op, context.config.attributes["schema"], TABLES)

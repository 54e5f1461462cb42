"""Outbox and inbox.

Revision ID: 0001
Revises:
"""

from alembic import context, op

from sextant.runtime.migrations import create_spine_tables, drop_spine_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spine_tables(op, context.config.attributes["schema"])


def downgrade() -> None:
    drop_spine_tables(op, context.config.attributes["schema"])

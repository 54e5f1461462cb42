"""Paused schedules: the purge of a workspace that left a schedule's scope none pauses it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column(
        "report_schedules", sa.Column("paused_at", sa.DateTime(timezone=True)), schema=schema
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("report_schedules", "paused_at", schema=schema)

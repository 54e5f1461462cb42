"""Stale flags remembered per item; the scopes the stale scan visits.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column(
        "work_items", sa.Column("stale_flagged_at", sa.DateTime(timezone=True)), schema=schema
    )
    op.create_table(
        "known_scopes",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("known_scopes", schema=schema)
    op.drop_column("work_items", "stale_flagged_at", schema=schema)

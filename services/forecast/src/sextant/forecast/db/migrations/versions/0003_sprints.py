"""Sprints and their scope, tenant-isolated.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "sprints",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("sprint_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "sprint_items",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("sprint_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        schema=schema,
    )
    enable_tenant_rls(op, "sprints", schema)
    enable_tenant_rls(op, "sprint_items", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("sprint_items", schema=schema)
    op.drop_table("sprints", schema=schema)

"""The work items' status-category milestones the flow metrics read.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "work_items",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("assignee_developer_id", sa.Uuid),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("category_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "work_items_workspace", "work_items", ["tenant_id", "workspace_id"], schema=schema
    )
    enable_tenant_rls(op, "work_items", schema)


def downgrade() -> None:
    op.drop_table("work_items", schema=context.config.attributes["schema"])

"""Users linked to developers (what a member's own history and teams are).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "user_links",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("linked_by", sa.Text, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index(
        "user_links_developer",
        "user_links",
        ["tenant_id", "developer_id"],
        unique=True,
        schema=schema,
    )
    enable_tenant_rls(op, "user_links", schema)


def downgrade() -> None:
    op.drop_table("user_links", schema=context.config.attributes["schema"])

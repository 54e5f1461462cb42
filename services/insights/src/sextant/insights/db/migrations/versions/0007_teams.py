"""Teams, their dated memberships and user ↔ developer links, as identity announces them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "teams",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "team_memberships",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("team_id", sa.Uuid, nullable=False),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date),
        schema=schema,
    )
    op.create_index(
        "team_memberships_team", "team_memberships", ["tenant_id", "team_id"], schema=schema
    )
    op.create_table(
        "user_links",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        schema=schema,
    )
    for table in ("teams", "team_memberships", "user_links"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("user_links", "team_memberships", "teams"):
        op.drop_table(table, schema=schema)

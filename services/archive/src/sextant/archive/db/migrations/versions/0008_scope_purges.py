"""Soft-deleted tenants and workspaces waiting for their grace period to end, then their
scope purge (requested once the archive verified a copy of their events).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "scope_purges",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("scope_kind", sa.Text, nullable=False),
        sa.Column("workspace_id", sa.Uuid),
        sa.Column("restorable_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("held_back", sa.Text),
        sa.Column("request_id", sa.Uuid),
        sa.Column("requested_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "scope_purges_due",
        "scope_purges",
        ["restorable_until"],
        schema=schema,
        postgresql_where=sa.text("requested_at IS NULL"),
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("scope_purges", schema=schema)

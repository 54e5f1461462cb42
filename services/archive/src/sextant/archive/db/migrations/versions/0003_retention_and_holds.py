"""Retention policies per tenant and data class; legal holds.

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
        "retention_policies",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("data_class", sa.Text, primary_key=True),
        sa.Column("hot_days", sa.Integer, nullable=False),
        sa.Column("cold_days", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("scope_kind", sa.Text, nullable=False),
        sa.Column("scope_id", sa.Uuid),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("released_by", sa.Text),
        sa.Column("release_reason", sa.Text),
        schema=schema,
    )
    op.create_index("legal_holds_listed", "legal_holds", ["tenant_id", "id"], schema=schema)
    enable_tenant_rls(op, "retention_policies", schema)
    enable_tenant_rls(op, "legal_holds", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("legal_holds", schema=schema)
    op.drop_table("retention_policies", schema=schema)

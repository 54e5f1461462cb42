"""Roll-up grants: a tenant lets another tenant put its metrics in cross-tenant roll-ups.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "rollup_grants",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("grantee_tenant_id", sa.Uuid, nullable=False),
        sa.Column("granted_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("rollup_grants_tenant_id", "rollup_grants", ["tenant_id", "id"], schema=schema)
    op.create_index(
        "rollup_grants_grantee",
        "rollup_grants",
        ["tenant_id", "grantee_tenant_id"],
        unique=True,
        schema=schema,
    )
    enable_tenant_rls(op, "rollup_grants", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("rollup_grants", schema=schema)

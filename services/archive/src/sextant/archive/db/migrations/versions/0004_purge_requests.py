"""When each archived object's hot rows were asked to be purged; the workspaces its events
belong to; the tenants the purge run visits.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column(
        "manifests", sa.Column("purge_requested_at", sa.DateTime(timezone=True)), schema=schema
    )
    op.add_column(
        "manifests",
        sa.Column("workspace_ids", ARRAY(sa.Uuid), nullable=False, server_default="{}"),
        schema=schema,
    )
    op.create_table(
        "archived_tenants", sa.Column("tenant_id", sa.Uuid, primary_key=True), schema=schema
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("archived_tenants", schema=schema)
    op.drop_column("manifests", "workspace_ids", schema=schema)
    op.drop_column("manifests", "purge_requested_at", schema=schema)

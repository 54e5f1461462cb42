"""Source connections, their webhook routes, raw deliveries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "hook_routes",
        sa.Column("source_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        schema=schema,
    )
    op.create_table(
        "sources",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("credentials_sealed", sa.LargeBinary),
        sa.Column("mapping", JSONB, nullable=False),
        sa.Column("signature_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("sources_workspace", "sources", ["tenant_id", "workspace_id"], schema=schema)
    op.create_table(
        "deliveries",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source_id", sa.Uuid, nullable=False),
        sa.Column("delivery_id", sa.Text, nullable=False),
        sa.Column("event", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_zlib", sa.LargeBinary, nullable=False),  # the raw body, zlib level 1
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.UniqueConstraint("source_id", "delivery_id", name="deliveries_once"),
        schema=schema,
    )
    op.create_index(
        "deliveries_received", "deliveries", ["source_id", "received_at"], schema=schema
    )
    for table in ("sources", "deliveries"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("deliveries", "sources", "hook_routes"):
        op.drop_table(table, schema=schema)

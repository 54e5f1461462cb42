"""Report jobs and the render queue.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("scope_workspaces", sa.ARRAY(sa.Uuid), nullable=False),
        sa.Column("period_from", sa.Date, nullable=False),
        sa.Column("period_to", sa.Date, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requester_role", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("object_key", sa.Text),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("sha256", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("reports_tenant_id", "reports", ["tenant_id", "id"], schema=schema)
    enable_tenant_rls(op, "reports", schema)
    op.create_table(
        "render_queue",
        sa.Column("report_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("render_queue", schema=schema)
    op.drop_table("reports", schema=schema)

"""Report schedules, the cross-tenant clock the scheduler reads, a report's schedule and
its forecast's items, and when rendered files expire.

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
        "report_schedules",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("scope_workspaces", sa.ARRAY(sa.Uuid), nullable=False),
        sa.Column("every", sa.Text, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("at", sa.Time, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("notify", sa.ARRAY(sa.Text), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("creator_role", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_report_id", sa.Uuid),
        schema=schema,
    )
    op.create_index(
        "report_schedules_tenant_id", "report_schedules", ["tenant_id", "id"], schema=schema
    )
    enable_tenant_rls(op, "report_schedules", schema)
    op.create_table(
        "schedule_clock",
        sa.Column("schedule_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("schedule_clock_next_run_at", "schedule_clock", ["next_run_at"], schema=schema)
    op.add_column("reports", sa.Column("schedule_id", sa.Uuid), schema=schema)
    op.add_column("reports", sa.Column("notify", sa.ARRAY(sa.Text)), schema=schema)
    op.add_column("reports", sa.Column("items", sa.Integer), schema=schema)
    op.add_column("reports", sa.Column("expires_at", sa.DateTime(timezone=True)), schema=schema)
    op.add_column("reports", sa.Column("deleted_at", sa.DateTime(timezone=True)), schema=schema)
    op.create_table(
        "file_expiry",
        sa.Column("report_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("file_expiry_expires_at", "file_expiry", ["expires_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("file_expiry", schema=schema)
    op.drop_column("reports", "deleted_at", schema=schema)
    op.drop_column("reports", "expires_at", schema=schema)
    op.drop_column("reports", "items", schema=schema)
    op.drop_column("reports", "notify", schema=schema)
    op.drop_column("reports", "schedule_id", schema=schema)
    op.drop_table("schedule_clock", schema=schema)
    op.drop_table("report_schedules", schema=schema)

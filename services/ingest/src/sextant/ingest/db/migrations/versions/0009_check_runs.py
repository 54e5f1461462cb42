"""Gate results posted back as GitHub check runs and GitLab commit statuses, and the
queue their posters lease from.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "check_runs",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source_id", sa.Uuid, nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("evaluation_id", sa.Uuid, nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("external_ref", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_id", "repository", "sha", "environment"),
        schema=schema,
    )
    op.create_table(
        "check_run_queue",
        sa.Column("check_run_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("check_run_queue_due", "check_run_queue", ["due_at"], schema=schema)
    enable_tenant_rls(op, "check_runs", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("check_run_queue", "check_runs"):
        op.drop_table(table, schema=schema)

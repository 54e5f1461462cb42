"""Backfill jobs with their checkpoints and progress.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "backfills",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source_id", sa.Uuid, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("checkpoint", JSONB, nullable=False),
        sa.Column("progress", JSONB, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("backfills_source", "backfills", ["source_id", "started_at"], schema=schema)
    enable_tenant_rls(op, "backfills", schema)


def downgrade() -> None:
    op.drop_table("backfills", schema=context.config.attributes["schema"])

"""Restores: archived events published again as replays, with their progress.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "restores",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("topics", ARRAY(sa.Text), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Uuid),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("objects_total", sa.Integer),
        sa.Column("objects_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("events_published", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("after_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failure", sa.Text),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("restores_open", "restores", ["status", "lease_until"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("restores", schema=schema)

"""The derivation queue (db/derivation_queue.py): the repositories and incident services
batches touched, for the worker to derive after them.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "derivation_queue",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("repository_id", sa.Text),
        sa.Column("service", sa.Text),
        sa.Column("change_ids", ARRAY(sa.Uuid), nullable=False),
        sa.Column("branches", ARRAY(sa.Text), nullable=False),
        sa.Column("shas", ARRAY(sa.Text), nullable=False),
        sa.Column("linked", sa.Boolean, nullable=False),
        schema=schema,
    )
    op.create_index(
        "derivation_queue_tenant", "derivation_queue", ["tenant_id", "id"], schema=schema
    )


def downgrade() -> None:
    op.drop_table("derivation_queue", schema=context.config.attributes["schema"])

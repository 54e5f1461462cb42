"""The DeveloperMetrics queue (db/day_queue.py): the (developer, day)s batches touched, for
the worker to recompute after them.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "metrics_queue",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("onward", sa.Boolean, nullable=False),
        schema=schema,
    )
    op.create_index("metrics_queue_tenant", "metrics_queue", ["tenant_id", "id"], schema=schema)


def downgrade() -> None:
    op.drop_table("metrics_queue", schema=context.config.attributes["schema"])

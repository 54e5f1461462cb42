"""Object deletions: a tenant's purge queues its files' prefixes, deleted after it commits.

The purge deleted them from the object store inside its transaction; one that then rolled
back kept its reports but not their files. It now records the prefixes in the same
transaction, and the scheduler's pass deletes their objects once it has committed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "object_deletions",
        sa.Column("prefix", sa.Text, primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("object_deletions", schema=schema)

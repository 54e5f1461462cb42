"""When a soft-deleted tenant or workspace was purged (its grace period over, a copy of
its events verified by the archive, every service's rows deleted): no longer restorable.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("tenants", "workspaces"):
        op.add_column(table, sa.Column("purged_at", sa.DateTime(timezone=True)), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("tenants", "workspaces"):
        op.drop_column(table, "purged_at", schema=schema)

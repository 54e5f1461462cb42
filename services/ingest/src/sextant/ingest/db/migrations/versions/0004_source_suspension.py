"""Sources are suspended while their tenant or workspace is soft-deleted.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sources",
        sa.Column("suspended_at", sa.DateTime(timezone=True)),
        schema=context.config.attributes["schema"],
    )


def downgrade() -> None:
    op.drop_column("sources", "suspended_at", schema=context.config.attributes["schema"])

"""When a commit list finished (listed or given up), the time retention purges it by;
the lists finished before this take their last update's.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column(
        "commit_lists", sa.Column("finished_at", sa.DateTime(timezone=True)), schema=schema
    )
    lists = sa.table(
        "commit_lists",
        sa.column("status"),
        sa.column("updated_at"),
        sa.column("finished_at"),
        schema=schema,
    )
    op.execute(
        lists.update().where(lists.c.status != "pending").values(finished_at=lists.c.updated_at)
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("commit_lists", "finished_at", schema=schema)

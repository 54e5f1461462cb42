"""An index for the retention purge of finished commit lists: a tenant's lists finished
before a time (``tenant_id = … AND finished_at <= …``), which without it read the whole
table. Partial: pending and retrying lists (no ``finished_at``) are never purged by time.

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
    op.create_index(
        "commit_lists_finished",
        "commit_lists",
        ["tenant_id", "finished_at"],
        schema=schema,
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("commit_lists_finished", "commit_lists", schema=schema)

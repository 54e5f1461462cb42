"""An index the daily recompute finds a developer's merges of a day by (it scanned every
change request of the developer).

Revision ID: 0008
Revises: 0007
"""

from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "change_requests_author_merged",
        "change_requests",
        ["tenant_id", "author_developer_id", "merged_at"],
        schema=context.config.attributes["schema"],
    )


def downgrade() -> None:
    op.drop_index(
        "change_requests_author_merged",
        "change_requests",
        schema=context.config.attributes["schema"],
    )

"""What a merged change request's commit list is (``ChangeRequestMerged.commits_source``:
listed, pending, head_only), shown on its detail.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column("change_requests", sa.Column("commits_source", sa.Text), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("change_requests", "commits_source", schema=schema)

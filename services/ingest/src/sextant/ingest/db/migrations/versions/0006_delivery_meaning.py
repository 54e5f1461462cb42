"""Deliveries keep what their facts meant: a digest of the facts and the values mapping
rules decided in them, which a replay compares to tell a mapping fix's revisions from
facts that did not change.

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
    op.add_column("deliveries", sa.Column("meaning", sa.LargeBinary), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("deliveries", "meaning", schema=schema)

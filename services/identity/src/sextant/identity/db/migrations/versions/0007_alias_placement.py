"""Each alias keeps the link that placed it with its developer.

A developer's detail showed every alias's own keys, not why the alias is there: the link
(rule, evidence and score) that joined it, or the person who moved it. Aliases stored
before this revision have none (NULL): the merges list still tells how their developers
came together.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column("aliases", sa.Column("placed_by", sa.Text), schema=schema)
    op.add_column("aliases", sa.Column("placed_score", sa.Float), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("aliases", "placed_score", schema=schema)
    op.drop_column("aliases", "placed_by", schema=schema)

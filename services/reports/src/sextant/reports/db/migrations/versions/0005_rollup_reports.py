"""Roll-up reports: the tenants a roll-up names and the DORA definition it asked for.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column("reports", sa.Column("tenants", sa.ARRAY(sa.Uuid)), schema=schema)
    op.add_column("reports", sa.Column("definition", sa.Text), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("reports", "definition", schema=schema)
    op.drop_column("reports", "tenants", schema=schema)

"""When an archived object was deleted at the end of its cold period: its manifest entry
stays, as a tombstone, so the chain still verifies.

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
    op.add_column("manifests", sa.Column("deleted_at", sa.DateTime(timezone=True)), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("manifests", "deleted_at", schema=schema)

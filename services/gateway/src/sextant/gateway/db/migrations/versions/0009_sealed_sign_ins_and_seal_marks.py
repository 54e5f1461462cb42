"""``seal_marks`` records the key the start's subscription-secret sealing pass last
finished under, so a start with the same key does not walk every tenant again.

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
    op.create_table(
        "seal_marks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("seal_marks", schema=schema)

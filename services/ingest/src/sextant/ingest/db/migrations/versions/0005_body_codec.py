"""Raw bodies name their codec: new deliveries are stored LZ4-compressed, existing rows
keep zlib.

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
    op.alter_column("deliveries", "body_zlib", new_column_name="body", schema=schema)
    op.add_column(
        "deliveries",
        sa.Column("body_codec", sa.Text, nullable=False, server_default="zlib"),
        schema=schema,
    )
    op.alter_column("deliveries", "body_codec", server_default=None, schema=schema)


def downgrade() -> None:
    # LZ4 bodies cannot be read as zlib: a downgrade refuses rather than corrupt them.
    schema = context.config.attributes["schema"]
    deliveries = sa.table("deliveries", sa.column("body_codec"), schema=schema)
    newer = (
        sa.select(sa.literal(1)).select_from(deliveries).where(deliveries.c.body_codec != "zlib")
    )
    if op.get_bind().execute(newer.limit(1)).first():
        raise RuntimeError("deliveries stored with LZ4 exist; they cannot be downgraded to zlib")
    op.drop_column("deliveries", "body_codec", schema=schema)
    op.alter_column("deliveries", "body", new_column_name="body_zlib", schema=schema)

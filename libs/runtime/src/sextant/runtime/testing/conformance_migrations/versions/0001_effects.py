"""Spine tables and the effects table the bus conformance suite counts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import create_spine_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    create_spine_tables(op, schema)
    op.create_table(
        "effects",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "event_id", sa.Uuid, nullable=False
        ),  # deliberately not unique: duplicates must show
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("member", sa.Text, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("effects", "inbox", "outbox"):
        op.drop_table(table, schema=schema)

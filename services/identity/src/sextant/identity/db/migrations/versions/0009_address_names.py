"""The names seen at each address (the shared-address rule), and suggestions to split.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    # Names are folded in Python (keys.normalize_name), so the aliases stored before are
    # not copied here: an address's names are collected as its new aliases are met.
    op.create_table(
        "address_names",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("address", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        schema=schema,
    )
    enable_tenant_rls(op, "address_names", schema)
    op.add_column(
        "merge_suggestions",
        sa.Column("kind", sa.Text, nullable=False, server_default="merge"),
        schema=schema,
    )
    op.add_column(
        "merge_suggestions",
        sa.Column("alias_ids", ARRAY(sa.Uuid), nullable=False, server_default="{}"),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_column("merge_suggestions", "alias_ids", schema=schema)
    op.drop_column("merge_suggestions", "kind", schema=schema)
    op.drop_table("address_names", schema=schema)

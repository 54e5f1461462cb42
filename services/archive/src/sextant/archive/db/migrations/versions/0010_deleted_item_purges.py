"""Each tenant's purge of work items deleted in their tool: the manifest entry up to which
the objects of the work items' topics verified, and the last request (its cut-off and the
holds it named), so the run asks again only when either changed.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "deleted_item_purges",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("verified_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("older_than", sa.DateTime(timezone=True)),
        sa.Column("holds", JSONB),
        sa.Column("request_id", sa.Uuid),
        sa.Column("requested_at", sa.DateTime(timezone=True)),
        sa.Column("held_back", sa.Text),
        schema=schema,
    )
    enable_tenant_rls(op, "deleted_item_purges", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("deleted_item_purges", schema=schema)

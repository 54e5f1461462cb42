"""Each archived object's purge per data class: when it was requested, and each owner's
answer (PurgeDone) with the rows it deleted.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "purge_requests",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("manifest_id", sa.Uuid, primary_key=True),
        sa.Column("data_class", sa.Text, primary_key=True),
        sa.Column("request_id", sa.Uuid, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "purge_answers",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("manifest_id", sa.Uuid, primary_key=True),
        sa.Column("data_class", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("rows_deleted", sa.BigInteger, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    enable_tenant_rls(op, "purge_requests", schema)
    enable_tenant_rls(op, "purge_answers", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("purge_answers", schema=schema)
    op.drop_table("purge_requests", schema=schema)

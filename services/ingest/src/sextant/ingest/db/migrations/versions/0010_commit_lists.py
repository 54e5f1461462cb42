"""The commit lists fetched for merges that webhooks brought, and the queue their
listers lease from.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "commit_lists",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source_id", sa.Uuid, nullable=False),
        sa.Column("delivery_id", sa.Uuid, nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("commit_shas", ARRAY(sa.Text), nullable=False),
        sa.Column("next_page", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_id", "repository", "number"),
        schema=schema,
    )
    op.create_table(
        "commit_list_queue",
        sa.Column("commit_list_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("commit_list_queue_due", "commit_list_queue", ["due_at"], schema=schema)
    enable_tenant_rls(op, "commit_lists", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("commit_list_queue", "commit_lists"):
        op.drop_table(table, schema=schema)

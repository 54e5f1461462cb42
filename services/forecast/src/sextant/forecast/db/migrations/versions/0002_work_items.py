"""Work items and their status history, tenant-isolated.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "work_items",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("item_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("status_category", sa.Text, nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("sprint_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("assignee_developer_id", sa.Uuid),
        sa.Column("stale_dismissed_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "work_items_done", "work_items", ["tenant_id", "workspace_id", "done_at"], schema=schema
    )
    op.create_table(
        "work_item_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("to_category", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        schema=schema,
    )
    op.create_index(
        "work_item_transitions_item",
        "work_item_transitions",
        ["tenant_id", "workspace_id", "key"],
        schema=schema,
    )
    enable_tenant_rls(op, "work_items", schema)
    enable_tenant_rls(op, "work_item_transitions", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("work_item_transitions", schema=schema)
    op.drop_table("work_items", schema=schema)

"""Partner subscriptions: signed outbound webhooks, their delivery log and queue.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("event_types", ARRAY(sa.Text), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("subscriptions_tenant", "subscriptions", ["tenant_id", "id"], schema=schema)
    op.create_table(
        "subscription_deliveries",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("subscription_id", sa.Uuid, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("subscription_id", "event_id"),
        schema=schema,
    )
    op.create_index(
        "subscription_deliveries_log",
        "subscription_deliveries",
        ["tenant_id", "subscription_id", "id"],
        schema=schema,
    )
    op.create_table(
        "delivery_queue",
        sa.Column("delivery_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("subscription_id", sa.Uuid, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("delivery_queue_due", "delivery_queue", ["due_at"], schema=schema)
    op.create_index(
        "delivery_queue_subscription", "delivery_queue", ["subscription_id"], schema=schema
    )
    for table in ("subscriptions", "subscription_deliveries"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("delivery_queue", "subscription_deliveries", "subscriptions"):
        op.drop_table(table, schema=schema)

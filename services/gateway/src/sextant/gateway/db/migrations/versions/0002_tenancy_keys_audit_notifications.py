"""Tenants, workspaces, views, API keys, the hash-chained audit log, notifications.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.db import app_role_for
from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "workspaces",
    "views",
    "api_keys",
    "audit_log",
    "audit_heads",
    "notifications",
    "notification_reads",
)


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("restorable_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "workspaces",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("restorable_until", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("workspaces_tenant", "workspaces", ["tenant_id", "created_at"], schema=schema)
    op.create_table(
        "views",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("workspace_ids", ARRAY(sa.Uuid), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("views_tenant", "views", ["tenant_id", "created_at"], schema=schema)
    op.create_table(
        "api_key_routes",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        schema=schema,
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("key_id", sa.Text, nullable=False, unique=True),
        sa.Column("secret_sha256", sa.LargeBinary, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_table(
        "audit_log",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target_id", sa.Text, nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("request_id", sa.Text),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "seq"),
        schema=schema,
    )
    op.create_index("audit_log_action", "audit_log", ["tenant_id", "action", "seq"], schema=schema)
    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_table(
        "notifications",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("id", sa.Uuid, nullable=False, unique=True),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("audience", ARRAY(sa.Text), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("raised_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("notifications_tenant", "notifications", ["tenant_id", "seq"], schema=schema)
    op.create_table(
        "notification_reads",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("notification_id", sa.Uuid, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(op, table, schema)
    # Append-only for the service itself: rows can be added and read, never changed.
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.audit_log FROM {app_role_for(schema)}")


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in (*reversed(TENANT_TABLES), "api_key_routes", "tenants"):
        op.drop_table(table, schema=schema)

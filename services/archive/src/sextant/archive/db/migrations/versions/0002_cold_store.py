"""The cold store: staged events, open partitions, the manifest chain.

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
        "staged_events",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("specversion", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("datacontenttype", sa.Text, nullable=False),
        sa.Column("dataschema", sa.Text),
        sa.Column("workspace_id", sa.Uuid),
        sa.Column("traceparent", sa.Text),
        sa.Column("data", sa.Text),
        sa.Column(
            "staged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("manifest_id", sa.Uuid),
        schema=schema,
    )
    op.create_index(
        "staged_events_waiting",
        "staged_events",
        ["tenant_id", "topic", "day", "time", "event_id"],
        schema=schema,
        postgresql_where=sa.text("manifest_id IS NULL"),
    )
    op.create_table(
        "open_partitions",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("touches", sa.BigInteger, nullable=False, server_default="1"),
        schema=schema,
    )
    op.create_table(
        "manifests",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("first_event_id", sa.Uuid, nullable=False),
        sa.Column("last_event_id", sa.Uuid, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("schema_versions", ARRAY(sa.Text), nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("row_hash", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("tenant_id", "seq", name="manifests_chain"),
        sa.UniqueConstraint("tenant_id", "topic", "day", "part", name="manifests_part"),
        schema=schema,
    )
    op.create_table(
        "manifest_heads",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("row_hash", sa.Text, nullable=False),
        schema=schema,
    )
    for table in ("staged_events", "manifests", "manifest_heads"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("manifest_heads", "manifests", "open_partitions", "staged_events"):
        op.drop_table(table, schema=schema)

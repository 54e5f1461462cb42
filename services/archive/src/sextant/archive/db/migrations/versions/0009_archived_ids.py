"""Archived events leave ``staged_events``: their ids move to the narrow ``archived_ids``
(what recognises a redelivery), so writing a part deletes its rows instead of updating
them, and ``staged_events`` holds only waiting events.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "archived_ids",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    enable_tenant_rls(op, "archived_ids", schema)
    op.execute(
        f"INSERT INTO {schema}.archived_ids (tenant_id, event_id, staged_at) "  # noqa: S608 (schema: a constant identifier)
        f"SELECT tenant_id, event_id, staged_at FROM {schema}.staged_events "
        "WHERE manifest_id IS NOT NULL"
    )
    op.execute(
        f"DELETE FROM {schema}.staged_events WHERE manifest_id IS NOT NULL"  # noqa: S608 (schema: a constant identifier)
    )
    op.drop_index("staged_events_waiting", table_name="staged_events", schema=schema)
    op.drop_column("staged_events", "manifest_id", schema=schema)
    op.create_index(
        "staged_events_waiting",
        "staged_events",
        ["tenant_id", "topic", "day", "time", "event_id"],
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("staged_events_waiting", table_name="staged_events", schema=schema)
    op.add_column("staged_events", sa.Column("manifest_id", sa.Uuid), schema=schema)
    op.create_index(
        "staged_events_waiting",
        "staged_events",
        ["tenant_id", "topic", "day", "time", "event_id"],
        schema=schema,
        postgresql_where=sa.text("manifest_id IS NULL"),
    )
    op.drop_table("archived_ids", schema=schema)

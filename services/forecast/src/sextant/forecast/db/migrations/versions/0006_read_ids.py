"""Work items and sprints get an id of their own for the read API: the source's key or
sprint id is unique only within a workspace, and a view spans several (two Jira sites
both have a sprint "42"). Existing rows get theirs from the default; the write path
needs no change. A work item's source connection, for the read API (filled by the
events from now on). Plus the index the work-item list pages by (newest first per scope).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("work_items", "sprints"):
        op.add_column(
            table,
            sa.Column("id", sa.Uuid, nullable=False, server_default=sa.text("gen_random_uuid()")),
            schema=schema,
        )
        op.create_index(f"{table}_id", table, ["id"], unique=True, schema=schema)
    op.add_column("work_items", sa.Column("source_id", sa.Uuid), schema=schema)
    op.create_index(
        "work_items_listed",
        "work_items",
        ["tenant_id", "workspace_id", "created_at", "id"],
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("work_items_listed", "work_items", schema=schema)
    op.drop_column("work_items", "source_id", schema=schema)
    for table in ("sprints", "work_items"):
        op.drop_index(f"{table}_id", table, schema=schema)
        op.drop_column(table, "id", schema=schema)

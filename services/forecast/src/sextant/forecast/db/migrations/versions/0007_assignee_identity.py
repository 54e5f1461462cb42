"""Assignees follow identity's merges, splits and moved aliases.

A work item's assignee was the developer identity named when the event was attributed,
and stayed so after a merge or split. Each item now keeps the assignee's alias too (a
split or move names aliases), and ``developer_merges`` records who each merged-away
developer is now, so an event attributed before a merge but handled after it is written
under the survivor.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column("work_items", sa.Column("assignee_alias_id", sa.Uuid), schema=schema)
    op.create_table(
        "developer_merges",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("developer_id", sa.Uuid, primary_key=True),
        sa.Column("survivor_id", sa.Uuid, nullable=False),
        schema=schema,
    )
    enable_tenant_rls(op, "developer_merges", schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("developer_merges", schema=schema)
    op.drop_column("work_items", "assignee_alias_id", schema=schema)

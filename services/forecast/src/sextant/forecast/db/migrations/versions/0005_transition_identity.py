"""A status change is recorded once per item, time, from and to status, whatever event
says it: ingest publishes a revision of a fact under a new id after a mapping fix, and
a webhook and a backfill may word one change twice.

Revision ID: 0005
Revises: 0004
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_index(
        "work_item_transitions_once",
        "work_item_transitions",
        ["tenant_id", "workspace_id", "key", "at", "from_status", "to_status"],
        unique=True,
        postgresql_nulls_not_distinct=True,
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("work_item_transitions_once", "work_item_transitions", schema=schema)

"""Each shipped change's lead time kept on its row, so the DORA median and P85 of a view's
year read one narrow index instead of computing it per change per call: a stored
generated column (PostgreSQL recomputes it at every write of the row, so relinking, a first
commit moving or a replay keep it right) and the shipped changes' index covering it.

Revision ID: 0014
Revises: 0012
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LEAD_SECONDS = "extract(epoch from deployed_at - coalesce(first_commit_at, opened_at))"


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column(
        "change_requests",
        sa.Column("lead_seconds", DOUBLE_PRECISION, sa.Computed(LEAD_SECONDS, persisted=True)),
        schema=schema,
    )
    op.drop_index("change_requests_deployed", "change_requests", schema=schema)
    op.create_index(
        "change_requests_lead_times",
        "change_requests",
        ["tenant_id", "workspace_id", "deployed_at"],
        schema=schema,
        postgresql_include=["lead_seconds", "author_developer_id", "author_is_bot"],
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("change_requests_lead_times", "change_requests", schema=schema)
    op.create_index(
        "change_requests_deployed",
        "change_requests",
        ["tenant_id", "workspace_id", "deployed_at"],
        schema=schema,
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    )
    op.drop_column("change_requests", "lead_seconds", schema=schema)

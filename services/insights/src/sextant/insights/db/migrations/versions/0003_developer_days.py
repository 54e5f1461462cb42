"""DeveloperMetrics: one row per developer per UTC day with activity, the tenant's switch
for per-developer metrics, the alias each record's actor came under (identity moves
aliases between developers), and the indexes the daily recompute reads by.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ALIASED = (
    ("change_requests", "author_alias_id"),
    ("reviews", "reviewer_alias_id"),
    ("commits", "author_alias_id"),
)


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "developer_days",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("developer_id", sa.Uuid, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("commits", sa.Integer, nullable=False),
        sa.Column("changes_opened", sa.Integer, nullable=False),
        sa.Column("changes_merged", sa.Integer, nullable=False),
        sa.Column("reviews_given", sa.Integer, nullable=False),
        sa.Column("review_latency_hours_sum", sa.Float, nullable=False),
        sa.Column("review_latency_count", sa.Integer, nullable=False),
        sa.Column("cycle_time_hours", ARRAY(sa.Float), nullable=False),
        sa.Column("cycle_time_p50_hours", sa.Float),
        sa.Column("cycle_time_p85_hours", sa.Float),
        sa.Column("wip", sa.Integer, nullable=False),
        schema=schema,
    )
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("developer_metrics_enabled", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    for table, column in ALIASED:
        op.add_column(table, sa.Column(column, sa.Uuid), schema=schema)
    op.create_index(
        "commits_author",
        "commits",
        ["tenant_id", "author_developer_id", "authored_at"],
        schema=schema,
    )
    op.create_index(
        "change_requests_author",
        "change_requests",
        ["tenant_id", "author_developer_id", "opened_at"],
        schema=schema,
    )
    op.create_index(
        "reviews_reviewer",
        "reviews",
        ["tenant_id", "reviewer_developer_id", "submitted_at"],
        schema=schema,
    )
    for table in ("developer_days", "tenant_settings"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for name in ("reviews_reviewer", "change_requests_author", "commits_author"):
        op.drop_index(name, schema=schema)
    for table, column in ALIASED:
        op.drop_column(table, column, schema=schema)
    op.drop_table("tenant_settings", schema=schema)
    op.drop_table("developer_days", schema=schema)

"""Merge history, separations, merge suggestions, teams and memberships over time.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("merges", "separations", "merge_suggestions", "teams", "team_memberships")


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "merges",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("survivor_id", sa.Uuid, nullable=False),
        sa.Column("merged_id", sa.Uuid, nullable=False),
        sa.Column("alias_ids", ARRAY(sa.Uuid), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("actor", sa.Text),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("merges_survivor", "merges", ["tenant_id", "survivor_id"], schema=schema)
    op.create_table(
        "separations",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("developer_a", sa.Uuid, primary_key=True),
        sa.Column("developer_b", sa.Uuid, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "merge_suggestions",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("developer_a", sa.Uuid, nullable=False),
        sa.Column("developer_b", sa.Uuid, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        schema=schema,
    )
    op.create_index(
        "merge_suggestions_status",
        "merge_suggestions",
        ["tenant_id", "status"],
        schema=schema,
    )
    op.create_table(
        "teams",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "teams_name_once",
        "teams",
        ["tenant_id", "name"],
        unique=True,
        schema=schema,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "team_memberships",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("team_id", sa.Uuid, nullable=False),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index(
        "team_memberships_team", "team_memberships", ["tenant_id", "team_id"], schema=schema
    )
    for table in TABLES:
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in reversed(TABLES):
        op.drop_table(table, schema=schema)

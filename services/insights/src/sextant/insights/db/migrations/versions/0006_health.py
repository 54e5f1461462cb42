"""Team-health suggestions: runs and their queue, the weekly schedule, suggestions and
their feedback, the acceptance counts, Gemini tokens per day, stale flags (health/db.py).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "health_runs",
    "suggestions",
    "suggestion_feedback",
    "health_acceptance",
    "health_tokens",
    "health_stale",
)


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "health_runs",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("team_id", sa.Uuid),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        _ts("created_at", nullable=False),
        _ts("started_at"),
        _ts("finished_at"),
        sa.Column("result", JSONB),
        sa.Column("error", sa.Text),
        schema=schema,
    )
    op.create_table(
        "health_queue",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        _ts("lease_until"),
        schema=schema,
    )
    op.create_table(
        "health_schedules",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("team_key", sa.Uuid, primary_key=True),  # the nil UUID: the whole workspace
        _ts("next_run_at", nullable=False),
        schema=schema,
    )
    op.create_table(
        "suggestions",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("run_id", sa.Uuid, nullable=False),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("team_id", sa.Uuid),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("finding_ids", ARRAY(sa.Text), nullable=False),
        sa.Column("findings", JSONB, nullable=False),
        sa.Column("people", ARRAY(sa.Uuid), nullable=False),
        sa.Column("aliases", JSONB, nullable=False),
        sa.Column("area", sa.Text),
        sa.Column("written_by", sa.Text, nullable=False),
        sa.Column("rank", sa.Float, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        _ts("snoozed_until"),
        _ts("decided_at"),
        _ts("created_at", nullable=False),
        schema=schema,
    )
    op.create_index(
        "suggestions_ranked",
        "suggestions",
        ["tenant_id", "workspace_id", sa.text("rank DESC"), "id"],
        schema=schema,
    )
    op.create_table(
        "suggestion_feedback",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("suggestion_id", sa.Uuid, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("by", sa.Text, nullable=False),
        _ts("at", nullable=False),
        schema=schema,
    )
    op.create_table(
        "health_acceptance",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("confirmed", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("snoozed", sa.Integer, nullable=False),
        schema=schema,
    )
    op.create_table(
        "health_tokens",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        schema=schema,
    )
    op.create_table(
        "health_stale",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("work_item_key", sa.Text, primary_key=True),
        _ts("flagged_at", nullable=False),
        schema=schema,
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in (*TENANT_TABLES, "health_schedules", "health_queue"):
        op.drop_table(table, schema=schema)

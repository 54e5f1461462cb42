"""Quality gates: versioned policies per scope and every distinct evaluation, kept as
evidence (gates/db.py); indexes a gate looks a SHA up by.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("gate_policies", "gate_evaluations")
# What a gate looks a SHA up by (the projections' own indexes are by repository id).
INDEXES = (
    ("change_requests_merge_sha", "change_requests", ["tenant_id", "merge_sha"]),
    ("pushes_after_sha", "pushes", ["tenant_id", "workspace_id", "after_sha"]),
    ("builds_sha", "builds", ["tenant_id", "workspace_id", "sha"]),
    ("deployments_sha", "deployments", ["tenant_id", "workspace_id", "sha"]),
    (
        "gate_evaluations_repository",
        "gate_evaluations",
        ["tenant_id", "workspace_id", "repository", "evaluated_at"],
    ),
)


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "gate_policies",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("policy", JSONB, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "gate_evaluations",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("change_request_id", sa.Uuid),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("overridden_by", sa.Text),
        sa.Column("override_reason", sa.Text),
        sa.Column("overridden_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint(
            "tenant_id",
            "scope",
            "policy_version",
            "repository",
            "sha",
            "environment",
            "digest",
            name="gate_evaluations_answer",
        ),
        schema=schema,
    )
    for table in TABLES:
        enable_tenant_rls(op, table, schema)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, schema=schema)
    op.create_index(
        "change_requests_commit_shas",
        "change_requests",
        ["commit_shas"],
        schema=schema,
        postgresql_using="gin",
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("change_requests_commit_shas", "change_requests", schema=schema)
    for name, table, _ in reversed(INDEXES):
        if table != "gate_evaluations":
            op.drop_index(name, table, schema=schema)
    for table in reversed(TABLES):
        op.drop_table(table, schema=schema)  # its index goes with it

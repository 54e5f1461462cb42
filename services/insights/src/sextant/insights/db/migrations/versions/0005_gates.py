"""Quality gates: versioned policies per scope and every distinct evaluation, kept as
evidence (gates/db.py).

Revision ID: 0005
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from sextant.runtime.migrations import enable_tenant_rls

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("gate_policies", "gate_evaluations")


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


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in reversed(TABLES):
        op.drop_table(table, schema=schema)

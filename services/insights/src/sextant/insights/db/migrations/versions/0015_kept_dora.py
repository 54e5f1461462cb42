"""DORA's facts of the rows a class purge deletes, kept hot (retention.py): the production
deployments, the shipped changes with their lead time generated as on the live row, and the
incidents, each indexed as the DORA reads range over (and the blamed SHAs are found in)
the live ones.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

from sextant.runtime.migrations import enable_tenant_rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LEAD_SECONDS = "extract(epoch from deployed_at - coalesce(first_commit_at, opened_at))"
KEPT = ("kept_deployments", "kept_changes", "kept_incidents")


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
    ]


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    at = sa.DateTime(timezone=True)
    op.create_table(
        "kept_deployments",
        *_key(),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("repository", sa.Text),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("succeeded_at", at),
        schema=schema,
    )
    op.create_index(
        "kept_deployments_succeeded",
        "kept_deployments",
        ["tenant_id", "workspace_id", "succeeded_at"],
        schema=schema,
        postgresql_include=["repository", "id"],
        postgresql_where=sa.text("status = 'success'"),
    )
    op.create_index(
        "kept_deployments_sha",
        "kept_deployments",
        ["tenant_id", "workspace_id", "sha"],
        schema=schema,
    )
    op.create_table(
        "kept_changes",
        *_key(),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("author_developer_id", sa.Uuid),
        sa.Column("author_is_bot", sa.Boolean, nullable=False),
        sa.Column("opened_at", at, nullable=False),
        sa.Column("first_commit_at", at),
        sa.Column("deployment_id", sa.Uuid),
        sa.Column("deployed_at", at),
        sa.Column("lead_seconds", DOUBLE_PRECISION, sa.Computed(LEAD_SECONDS, persisted=True)),
        schema=schema,
    )
    op.create_index(
        "kept_changes_deployed",
        "kept_changes",
        ["tenant_id", "workspace_id", "deployed_at"],
        schema=schema,
        postgresql_include=["lead_seconds", "author_developer_id", "author_is_bot"],
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    )
    op.create_table(
        "kept_incidents",
        *_key(),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("deployment_sha", sa.Text),
        sa.Column("opened_at", at, nullable=False),
        sa.Column("resolved_at", at),
        schema=schema,
    )
    op.create_index(
        "kept_incidents_opened",
        "kept_incidents",
        ["tenant_id", "workspace_id", "opened_at"],
        schema=schema,
    )
    for table in KEPT:
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in KEPT:
        op.drop_table(table, schema=schema)

"""Indexes the DORA keys are summed by: a scope's successful production deployments, its
shipped changes and its incidents, each by workspace and time (the reads scanned every
record of the workspaces).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_index(
        "deployments_production_succeeded",
        "deployments",
        ["tenant_id", "workspace_id", "succeeded_at"],
        schema=schema,
        postgresql_include=["repository", "id"],
        postgresql_where=sa.text("is_production AND status = 'success'"),
    )
    op.create_index(
        "change_requests_deployed",
        "change_requests",
        ["tenant_id", "workspace_id", "deployed_at"],
        schema=schema,
        postgresql_where=sa.text("deployment_id IS NOT NULL"),
    )
    op.create_index(
        "incidents_opened", "incidents", ["tenant_id", "workspace_id", "opened_at"], schema=schema
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("incidents_opened", "incidents", schema=schema)
    op.drop_index("change_requests_deployed", "change_requests", schema=schema)
    op.drop_index("deployments_production_succeeded", "deployments", schema=schema)

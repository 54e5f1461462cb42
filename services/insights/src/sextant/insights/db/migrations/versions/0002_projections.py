"""Projections of attributed activity: change requests, reviews, commits, pushes, builds,
deployments and what they shipped, incidents, and the local developer map.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (
    "change_requests",
    "reviews",
    "commits",
    "pushes",
    "builds",
    "deployments",
    "deployment_changes",
    "incidents",
    "developers",
)


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "change_requests",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("repository_id", sa.Text, nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author_developer_id", sa.Uuid),
        sa.Column("author_is_bot", sa.Boolean, nullable=False),
        sa.Column("base_branch", sa.Text, nullable=False),
        sa.Column("head_branch", sa.Text, nullable=False),
        sa.Column("into_default_branch", sa.Boolean),
        sa.Column("draft", sa.Boolean, nullable=False),
        sa.Column("labels", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _at("opened_at", nullable=False),
        _at("first_commit_at"),
        _at("first_review_at"),
        _at("merged_at"),
        sa.Column("merge_sha", sa.Text),
        sa.Column("commit_shas", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _at("closed_at"),
        _at("snapshot_at", nullable=False),
        sa.Column("deployment_id", sa.Uuid),
        _at("deployed_at"),
        schema=schema,
    )
    op.create_index(
        "change_requests_repository",
        "change_requests",
        ["tenant_id", "workspace_id", "repository_id"],
        schema=schema,
    )
    op.create_table(
        "reviews",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("change_request_id", sa.Uuid, primary_key=True),
        sa.Column("review_id", sa.Text, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("reviewer_developer_id", sa.Uuid),
        sa.Column("reviewer_is_bot", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        _at("submitted_at", nullable=False),
        schema=schema,
    )
    op.create_table(
        "commits",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, primary_key=True),
        sa.Column("repository_id", sa.Text, primary_key=True),
        sa.Column("sha", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author_developer_id", sa.Uuid),
        sa.Column("author_is_bot", sa.Boolean, nullable=False),
        _at("authored_at", nullable=False),
        _at("committed_at"),
        sa.Column("branch", sa.Text, nullable=False),
        _at("pushed_at", nullable=False),
        schema=schema,
    )
    op.create_table(
        "pushes",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("repository_id", sa.Text, nullable=False),
        sa.Column("branch", sa.Text, nullable=False),
        sa.Column("into_default_branch", sa.Boolean),
        sa.Column("before_sha", sa.Text),
        sa.Column("after_sha", sa.Text, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("commit_shas", ARRAY(sa.Text), nullable=False),
        sa.Column("pusher_developer_id", sa.Uuid),
        sa.Column("pusher_is_bot", sa.Boolean, nullable=False),
        _at("pushed_at", nullable=False),
        schema=schema,
    )
    op.create_index(
        "pushes_repository",
        "pushes",
        ["tenant_id", "workspace_id", "repository_id"],
        schema=schema,
    )
    op.create_table(
        "builds",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("repository_id", sa.Text),
        sa.Column("repository", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("sha", sa.Text),
        sa.Column("branch", sa.Text),
        _at("started_at"),
        _at("finished_at", nullable=False),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("triggered_by_developer_id", sa.Uuid),
        sa.Column("triggered_by_is_bot", sa.Boolean, nullable=False),
        schema=schema,
    )
    op.create_table(
        "deployments",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("repository_id", sa.Text),
        sa.Column("repository", sa.Text),
        sa.Column("environment", sa.Text, nullable=False),
        sa.Column("is_production", sa.Boolean, nullable=False),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        _at("status_at", nullable=False),
        _at("started_at"),
        _at("finished_at"),
        _at("succeeded_at"),
        sa.Column("deployed_by_developer_id", sa.Uuid),
        sa.Column("deployed_by_is_bot", sa.Boolean, nullable=False),
        schema=schema,
    )
    op.create_index(
        "deployments_repository",
        "deployments",
        ["tenant_id", "workspace_id", "repository_id"],
        schema=schema,
    )
    op.create_table(
        "deployment_changes",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("deployment_id", sa.Uuid, primary_key=True),
        sa.Column("change_request_id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("repository_id", sa.Text, nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        schema=schema,
    )
    op.create_index(
        "deployment_changes_repository",
        "deployment_changes",
        ["tenant_id", "workspace_id", "repository_id"],
        schema=schema,
    )
    op.create_table(
        "incidents",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("workspace_id", sa.Uuid, nullable=False),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.Text),
        sa.Column("service", sa.Text),
        sa.Column("deployment_sha", sa.Text),
        _at("opened_at", nullable=False),
        _at("resolved_at"),
        _at("snapshot_at", nullable=False),
        schema=schema,
    )
    op.create_table(
        "developers",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("developer_id", sa.Uuid, primary_key=True),
        sa.Column("current_id", sa.Uuid, nullable=False),
        sa.Column("is_bot", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=schema,
    )
    for table in TABLES:
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in reversed(TABLES):
        op.drop_table(table, schema=schema)

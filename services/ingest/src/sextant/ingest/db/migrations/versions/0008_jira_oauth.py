"""Jira OAuth 2.0 (3LO): consents under way (their states), each source's grant (sealed
tokens) and when each grant is refreshed next.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.LargeBinary, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("source_id", sa.Uuid, nullable=False),
        sa.Column("started_by", sa.Text, nullable=False),
        sa.Column("verifier_sealed", sa.LargeBinary, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("oauth_states_expiry", "oauth_states", ["expires_at"], schema=schema)
    op.create_table(
        "oauth_grants",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("source_id", sa.Uuid, primary_key=True),
        sa.Column("tokens_sealed", sa.LargeBinary, nullable=False),
        sa.Column("cloud_id", sa.Text, nullable=False),
        sa.Column("site_url", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("connected_by", sa.Text, nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    enable_tenant_rls(op, "oauth_grants", schema)
    op.create_table(
        "oauth_refreshes",
        sa.Column("source_id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("refresh_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("oauth_refreshes_due", "oauth_refreshes", ["refresh_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("oauth_refreshes", "oauth_grants", "oauth_states"):
        op.drop_table(table, schema=schema)

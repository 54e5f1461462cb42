"""Developers, their aliases, and the match keys that link aliases.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "developers",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("display_name", sa.Text),
        sa.Column("is_bot", sa.Boolean, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("merged_into", sa.Uuid),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "aliases",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("developer_id", sa.Uuid, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text),
        sa.Column("login", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("display_name", sa.Text),
        sa.Column("is_bot", sa.Boolean, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "fingerprint", name="aliases_once"),
        schema=schema,
    )
    op.create_index("aliases_developer", "aliases", ["tenant_id", "developer_id"], schema=schema)
    op.create_table(
        "alias_keys",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("alias_id", sa.Uuid, primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        schema=schema,
    )
    for table in ("developers", "aliases", "alias_keys"):
        enable_tenant_rls(op, table, schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in ("alias_keys", "aliases", "developers"):
        op.drop_table(table, schema=schema)

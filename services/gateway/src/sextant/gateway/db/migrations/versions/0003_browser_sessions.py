"""The portal's sign-in sessions (cookie digests, one-time link ids).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "browser_sessions",
        sa.Column("id_sha256", sa.LargeBinary, primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("link_jti", sa.Text, unique=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("browser_sessions_expiry", "browser_sessions", ["expires_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("browser_sessions", schema=schema)

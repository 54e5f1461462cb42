"""The portal's OIDC sign-ins in flight (state digest, PKCE verifier, nonce).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state_sha256", sa.LargeBinary, primary_key=True),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("code_verifier", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index("oidc_sign_ins_expiry", "oidc_sign_ins", ["expires_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("oidc_sign_ins", schema=schema)

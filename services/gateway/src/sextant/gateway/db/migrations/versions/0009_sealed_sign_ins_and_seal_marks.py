"""An OIDC sign-in's PKCE verifier is kept sealed (``sealed_verifier``), no longer in
plaintext; ``seal_marks`` records the key the start's subscription-secret sealing pass
last finished under, so a start with the same key does not walk every tenant again.

Sign-ins in flight when this runs are dropped (their verifiers were plaintext, and they
last minutes): a user who was mid-way starts the sign-in again.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.execute(sa.table("oidc_sign_ins", schema=schema).delete())
    op.drop_column("oidc_sign_ins", "code_verifier", schema=schema)
    op.add_column(
        "oidc_sign_ins",
        sa.Column("sealed_verifier", sa.LargeBinary, nullable=False),
        schema=schema,
    )
    op.create_table(
        "seal_marks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    # A sealed verifier cannot be opened here (the keys are the gateway's): sign-ins in
    # flight are dropped again.
    schema = context.config.attributes["schema"]
    op.drop_table("seal_marks", schema=schema)
    op.execute(sa.table("oidc_sign_ins", schema=schema).delete())
    op.drop_column("oidc_sign_ins", "sealed_verifier", schema=schema)
    op.add_column(
        "oidc_sign_ins", sa.Column("code_verifier", sa.Text, nullable=False), schema=schema
    )

"""Partner subscriptions' signing secrets are kept sealed (``sealed_secret``); the
plaintext column stays nullable until the gateway's start has sealed every old row.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.add_column("subscriptions", sa.Column("sealed_secret", sa.LargeBinary), schema=schema)
    op.alter_column("subscriptions", "secret", nullable=True, schema=schema)


def downgrade() -> None:
    # The sealed secrets cannot be opened here (the keys are the service's); a downgrade
    # keeps the rows, and deliveries of sealed-only subscriptions stop being signable.
    schema = context.config.attributes["schema"]
    op.drop_column("subscriptions", "sealed_secret", schema=schema)

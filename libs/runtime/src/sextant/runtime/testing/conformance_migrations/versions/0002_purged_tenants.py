"""The tombstones of purged tenants the consumer checks (sextant.runtime.tombstones).

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

from sextant.runtime.migrations import create_purged_tenants, drop_purged_tenants

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_purged_tenants(op, context.config.attributes["schema"])


def downgrade() -> None:
    drop_purged_tenants(op, context.config.attributes["schema"])

"""Tombstones of purged tenants, so events of a tenant still queued after its purge bring
none of its rows back (sextant.runtime.tombstones; the consumer checks them).

Revision ID: 0014
Revises: 0013
"""

from alembic import context, op

from sextant.runtime.migrations import create_purged_tenants, drop_purged_tenants

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_purged_tenants(op, context.config.attributes["schema"])


def downgrade() -> None:
    drop_purged_tenants(op, context.config.attributes["schema"])

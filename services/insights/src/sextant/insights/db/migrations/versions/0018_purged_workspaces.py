"""Tombstones of purged workspaces, so events of a workspace still queued after its purge
bring none of its rows back (sextant.runtime.tombstones; the consumer checks them).

Revision ID: 0018
Revises: 0017
"""

from alembic import context, op

from sextant.runtime.migrations import create_purged_workspaces, drop_purged_workspaces

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_purged_workspaces(op, context.config.attributes["schema"])


def downgrade() -> None:
    drop_purged_workspaces(op, context.config.attributes["schema"])

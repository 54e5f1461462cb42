"""Roll-up grants to a purged tenant: the grantee's transaction may read and delete them.

A grant belongs to the granting tenant (row-level security on ``tenant_id``); the purge of
the grantee runs in the grantee's transaction, which saw none of the grants given to it, so
they outlived it. A second pair of policies lets the tenant ``grantee_tenant_id`` names
read and delete (never write) them.

Revision ID: 0007
Revises: 0006
"""

from alembic import context, op

from sextant.runtime.migrations import let_named_tenant_read_and_delete

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    let_named_tenant_read_and_delete(op, "rollup_grants", schema, "grantee_tenant_id")


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for policy in ("grantee_tenant_id_select", "grantee_tenant_id_delete"):
        op.execute(f"DROP POLICY {policy} ON {schema}.rollup_grants")

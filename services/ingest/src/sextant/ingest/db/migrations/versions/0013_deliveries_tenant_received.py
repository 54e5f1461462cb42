"""An index for the retention purges of raw deliveries: a tenant's deliveries received in
a range (``tenant_id = … AND received_at <= …``) and a tenant's purge (``tenant_id = …``),
which without it read every tenant's deliveries (the only other indexes lead with the
source).

Revision ID: 0013
Revises: 0012
"""

from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_index(
        "deliveries_tenant_received", "deliveries", ["tenant_id", "received_at"], schema=schema
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_index("deliveries_tenant_received", "deliveries", schema=schema)

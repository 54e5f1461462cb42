"""When each tenant's name links were last revisited (the automatic revisit's schedule),
and the names seen at each address copied from the aliases stored before 0009.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.identity.db.backfill import address_names_from_aliases

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    # A schedule read across tenants by the background loop (no row-level security, as the
    # archive's scope_purges): a tenant id and two counts, nothing about anyone.
    op.create_table(
        "revisits",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("names_then", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("revisited_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    # Tenants as attribution meets them (once per tenant and process): a plain insert,
    # no key, so two first transactions of a new tenant never wait on each other; the loop
    # moves them to revisits.
    op.create_table("tenants_seen", sa.Column("tenant_id", sa.Uuid, nullable=False), schema=schema)
    # Every tenant from before is due its first revisit once it has enough names: its
    # first links were judged against the few names it had then.
    op.execute(
        f"INSERT INTO {schema}.revisits (tenant_id) "  # noqa: S608 (schema: a constant identifier)
        f"SELECT DISTINCT tenant_id FROM {schema}.developers"
    )
    address_names_from_aliases(op.get_bind(), schema)


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    op.drop_table("tenants_seen", schema=schema)
    op.drop_table("revisits", schema=schema)

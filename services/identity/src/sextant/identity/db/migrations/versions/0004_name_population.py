"""The tenant's name population: which names were seen, and how many carry each token.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("names_seen", "name_tokens")


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    op.create_table(
        "names_seen",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        schema=schema,
    )
    op.create_table(
        "name_tokens",
        sa.Column("tenant_id", sa.Uuid, primary_key=True),
        sa.Column("token", sa.Text, primary_key=True),
        sa.Column("names", sa.BigInteger, nullable=False),
        schema=schema,
    )
    for table in TABLES:
        enable_tenant_rls(op, table, schema)
    # The names already known count too (in one shard of the total; their domains are
    # counted as they are met).
    op.execute(
        f"INSERT INTO {schema}.names_seen (tenant_id, value) "  # noqa: S608 (schema: a constant identifier)
        f"SELECT DISTINCT tenant_id, key FROM {schema}.alias_keys "
        "WHERE key LIKE 'name:%%' AND rule = 'same full name'"
    )
    op.execute(
        f"INSERT INTO {schema}.name_tokens (tenant_id, token, names) "  # noqa: S608 (schema: a constant identifier)
        "SELECT tenant_id, token, count(*) FROM ("
        "  SELECT DISTINCT tenant_id, value, unnest(string_to_array(substr(value, 6), ' ')) "
        f"  AS token FROM {schema}.names_seen"
        "  UNION ALL SELECT tenant_id, value, '#0' FROM "
        f"  {schema}.names_seen) AS t GROUP BY tenant_id, token"
    )


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for table in reversed(TABLES):
        op.drop_table(table, schema=schema)

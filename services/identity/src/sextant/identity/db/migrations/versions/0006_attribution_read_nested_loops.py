"""Attribution's read plans nested loops over the indexes.

Its statements look up a handful of rows by key. Under the generic plans it runs (0005)
every array parameter is estimated at ten elements, so on a tenant of a thousand aliases
a hash join over a scan of the whole aliases table looked cheaper than a few index probes:
0.2 ms of the read's 0.5 ms on the server, to find three rows. Nested loops over the
indexes are right at every size here (the probes are few; the tables only grow), so the
function turns the other join methods off for its own statements.

Revision ID: 0006
Revises: 0005
"""

from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SIGNATURE = "attribution_read(uuid, text[], text[], text[], text[], text[])"


def upgrade() -> None:
    schema = context.config.attributes["schema"]
    for setting in ("enable_hashjoin", "enable_mergejoin"):
        op.execute(f"ALTER FUNCTION {schema}.{SIGNATURE} SET {setting} = off")


def downgrade() -> None:
    schema = context.config.attributes["schema"]
    for setting in ("enable_hashjoin", "enable_mergejoin"):
        op.execute(f"ALTER FUNCTION {schema}.{SIGNATURE} RESET {setting}")

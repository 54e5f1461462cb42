"""Sealed secrets name their key: values sealed before key ids existed gain a leading
version byte 0 (they open with key ``k0``, the single key of before); new values are
sealed as version 1, which carries the key id (see ``sextant.ingest.sealing``).

The update runs with row-level security not forced for the owner, so it reaches every
tenant's sources; the ALTER holds the table's lock until the migration commits.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import context, op

from sextant.runtime.db import identifier

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LEGACY = sa.literal(b"\x00", sa.LargeBinary)


def _sources() -> sa.TableClause:
    return sa.table(
        "sources",
        sa.column("secret_sealed", sa.LargeBinary),
        sa.column("credentials_sealed", sa.LargeBinary),
        schema=context.config.attributes["schema"],
    )


def _force_rls(force: bool) -> None:
    qualified = f"{identifier(context.config.attributes['schema'])}.sources"
    op.execute(f"ALTER TABLE {qualified} {'' if force else 'NO '}FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    sources = _sources()
    _force_rls(False)
    op.execute(
        sources.update().values(
            secret_sealed=LEGACY.concat(sources.c.secret_sealed),
            credentials_sealed=LEGACY.concat(sources.c.credentials_sealed),
        )
    )
    _force_rls(True)


def downgrade() -> None:
    # Values sealed with a key id cannot be opened by the code before: a downgrade refuses
    # rather than leave secrets nothing can open.
    sources = _sources()
    _force_rls(False)
    newer = sa.select(sa.literal(1)).where(
        sa.or_(
            sa.func.get_byte(sources.c.secret_sealed, 0) != 0,
            sa.func.get_byte(sources.c.credentials_sealed, 0) != 0,
        )
    )
    if op.get_bind().execute(newer.limit(1)).first():
        raise RuntimeError("sources sealed with a key id exist; they cannot be downgraded")
    op.execute(
        sources.update().values(
            secret_sealed=sa.func.substring(sources.c.secret_sealed, 2),
            credentials_sealed=sa.func.substring(sources.c.credentials_sealed, 2),
        )
    )
    _force_rls(True)

"""Identity's tables (schema ``identity``): developers, the aliases each tool knows them
by, and the match keys that link aliases. All are tenant tables (RLS forced in the
migration); rows never leave this package — :mod:`repository` returns plain values.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

developers = sa.Table(
    "developers",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("display_name", sa.Text),
    sa.Column("is_bot", sa.Boolean, nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("merged_into", sa.Uuid),  # set when merged away; follow it to the survivor
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("developer_id", sa.Uuid, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("account_id", sa.Text),
    sa.Column("login", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("display_name", sa.Text),
    sa.Column("is_bot", sa.Boolean, nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("tenant_id", "fingerprint", name="aliases_once"),
)
sa.Index("aliases_developer", aliases.c.tenant_id, aliases.c.developer_id)

alias_keys = sa.Table(
    "alias_keys",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("alias_id", sa.Uuid, primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
)

"""Identity's tables (schema ``identity``): developers, the aliases each tool knows them
by, the match keys that link aliases, merge history, merge suggestions and teams over
time. All are tenant tables (RLS forced in the migrations); rows never leave this
package — :mod:`repository` returns plain values.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

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
    # The link that placed the alias with its developer (rule with its evidence, score),
    # or who moved it; NULL when it started its developer or was stored before 0007.
    sa.Column("placed_by", sa.Text),
    sa.Column("placed_score", sa.Float),
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

# The distinct (normalized) names each address was seen under: keys.is_shared_address
# judges them, as the batch resolver judges an address's whole population.
address_names = sa.Table(
    "address_names",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("address", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
)

# When each tenant's name links were last revisited, and its distinct names then: the
# background loop (revisiting.py) revisits a tenant once they have grown enough. Read
# across tenants, so no row-level security (a tenant id and counts, nothing personal).
revisits = sa.Table(
    "revisits",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("names_then", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("revisited_at", sa.DateTime(timezone=True)),
    info={"cross_tenant": "the revisit loop lists the tenants to look at before acting as each"},
)

# Tenants as attribution meets them, once per tenant and process: no key, so a new
# tenant's first transactions never wait on each other's insert; the loop moves them to
# revisits.
tenants_seen = sa.Table(
    "tenants_seen",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    info={"cross_tenant": "the revisit loop moves every tenant noted to its schedule"},
)

# The tenant's name population (domain/evidence.py): each distinct full name and each
# distinct (domain, name) seen once; per token the number of distinct names carrying it,
# "#<shard>" counting all names, "@<domain>" the names seen at a domain, "@#<shard>" all
# such pairs (repository.total_shard).
names_seen = sa.Table(
    "names_seen",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
)
name_tokens = sa.Table(
    "name_tokens",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("token", sa.Text, primary_key=True),
    sa.Column("names", sa.BigInteger, nullable=False),
)

# Every merge, with the aliases the merged developer held then: a split that names exactly
# those aliases revives the merged developer (same id) instead of minting a new one.
merges = sa.Table(
    "merges",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("survivor_id", sa.Uuid, nullable=False),
    sa.Column("merged_id", sa.Uuid, nullable=False),
    sa.Column("alias_ids", ARRAY(sa.Uuid), nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("actor", sa.Text),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("merges_survivor", merges.c.tenant_id, merges.c.survivor_id)

# Pairs a person said are different people (a rejected suggestion, a split, a move): never
# merged automatically or suggested again. Rows name the developers as they were then; a
# check expands each live developer to everyone merged into it.
separations = sa.Table(
    "separations",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("developer_a", sa.Uuid, primary_key=True),
    sa.Column("developer_b", sa.Uuid, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)

merge_suggestions = sa.Table(
    "merge_suggestions",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("developer_a", sa.Uuid, nullable=False),
    sa.Column("developer_b", sa.Uuid, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("evidence", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending | confirmed | rejected
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.Text),
    # merge: developer_a with developer_b; split: alias_ids out of developer_a (== b)
    sa.Column("kind", sa.Text, nullable=False, server_default="merge"),
    sa.Column("alias_ids", ARRAY(sa.Uuid), nullable=False, server_default="{}"),
)
sa.Index("merge_suggestions_status", merge_suggestions.c.tenant_id, merge_suggestions.c.status)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "teams_name_once",
    teams.c.tenant_id,
    teams.c.name,
    unique=True,
    postgresql_where=teams.c.deleted_at.is_(None),
)

# Memberships name the developer as it was when added; reads follow merges to the live one.
team_memberships = sa.Table(
    "team_memberships",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("team_id", sa.Uuid, nullable=False),
    sa.Column("developer_id", sa.Uuid, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date),  # the last day of membership (inclusive); None: ongoing
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("team_memberships_team", team_memberships.c.tenant_id, team_memberships.c.team_id)

# Which developer a user (the gateway's token subject) is: set by a tenant admin, announced
# as DeveloperUserLinked so insights can show a member their own history and teams.
user_links = sa.Table(
    "user_links",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("developer_id", sa.Uuid, nullable=False),
    sa.Column("linked_by", sa.Text, nullable=False),
    sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("user_links_developer", user_links.c.tenant_id, user_links.c.developer_id, unique=True)

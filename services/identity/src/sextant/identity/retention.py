"""Identity's rows for the purge of a soft-deleted tenant: every table is declared, of no
retention class (identity's events are what projections are rebuilt from: never purged on
a hot period), so a tenant's scope purge deletes its developers, aliases and their match
keys, the name population, merges, separations, suggestions, teams, memberships, user
links and its place on the revisit schedule. Nothing here has a workspace: a workspace's
purge keeps identity's rows (developers are the tenant's, across workspaces)."""

from sextant.identity.db import (
    address_names,
    alias_keys,
    aliases,
    developers,
    merge_suggestions,
    merges,
    name_tokens,
    names_seen,
    revisits,
    separations,
    team_memberships,
    teams,
    tenants_seen,
    user_links,
)
from sextant.identity.handlers import OUTBOX
from sextant.runtime.purge import Purger, PurgeTable

DEV = "developer_id"
ALIASES = PurgeTable(aliases, None, time_column="first_seen_at", developer_column=DEV)
PURGER = Purger(
    "identity",
    OUTBOX,
    [
        PurgeTable(developers, None, time_column="created_at", developer_column="id"),
        ALIASES,
        PurgeTable(
            alias_keys,
            None,
            item_of=(ALIASES, ("tenant_id", "alias_id")),
            item_columns=("tenant_id", "id"),
        ),
        PurgeTable(address_names, None),
        PurgeTable(names_seen, None),
        PurgeTable(name_tokens, None),
        PurgeTable(merges, None, time_column="merged_at", developer_column="survivor_id"),
        PurgeTable(separations, None, time_column="decided_at"),
        PurgeTable(merge_suggestions, None, time_column="created_at"),
        PurgeTable(teams, None, time_column="created_at"),
        PurgeTable(team_memberships, None, time_column="created_at", developer_column=DEV),
        PurgeTable(user_links, None, time_column="linked_at", developer_column=DEV),
        PurgeTable(revisits, None),  # the revisit schedule (no RLS: filtered by tenant here)
        PurgeTable(tenants_seen, None),
    ],
)

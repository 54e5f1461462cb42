"""Forecast's tables (schema ``forecast``): the work-item projection it forecasts from.

Every table is a tenant table (RLS forced in the migration); rows never leave this
package — repository functions return plain values and dataclasses.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY

from sextant.runtime.outbox import spine_tables

SCHEMA = "forecast"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

work_items = sa.Table(
    "work_items",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("item_type", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("status_category", sa.Text, nullable=False),
    sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("sprint_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("assignee_developer_id", sa.Uuid),
    sa.Column("assignee_alias_id", sa.Uuid),  # a split or moved alias takes its items along
    sa.Column("stale_dismissed_at", sa.DateTime(timezone=True)),
    sa.Column("stale_flagged_at", sa.DateTime(timezone=True)),
    # The read API's id: the key is unique only within a workspace (migration 0006).
    sa.Column("id", sa.Uuid, nullable=False, server_default=sa.text("gen_random_uuid()")),
    sa.Column("source_id", sa.Uuid),  # the Sextant source connection it came from
)
sa.Index("work_items_done", work_items.c.tenant_id, work_items.c.workspace_id, work_items.c.done_at)
sa.Index("work_items_id", work_items.c.id, unique=True)
sa.Index(
    "work_items_listed",
    work_items.c.tenant_id,
    work_items.c.workspace_id,
    work_items.c.created_at,
    work_items.c.id,
)

transitions = sa.Table(
    "work_item_transitions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("to_category", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
)
sa.Index(
    "work_item_transitions_item",
    transitions.c.tenant_id,
    transitions.c.workspace_id,
    transitions.c.key,
)
# One row per change, whichever event says it: a revision of a fact (ingest, after a
# mapping fix) comes under a new event id. PostgreSQL >= 15 (NULLS NOT DISTINCT: a
# creation has no from status).
sa.Index(
    "work_item_transitions_once",
    transitions.c.tenant_id,
    transitions.c.workspace_id,
    transitions.c.key,
    transitions.c.at,
    transitions.c.from_status,
    transitions.c.to_status,
    unique=True,
    postgresql_nulls_not_distinct=True,
)

# Who each merged-away developer is now (identity's merges, chains flattened): an event
# attributed before a merge but handled after it is written under the survivor.
developer_merges = sa.Table(
    "developer_merges",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("developer_id", sa.Uuid, primary_key=True),
    sa.Column("survivor_id", sa.Uuid, nullable=False),
)

sprints = sa.Table(
    "sprints",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("sprint_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    # The read API's id: the source's sprint id is unique only within a workspace.
    sa.Column("id", sa.Uuid, nullable=False, server_default=sa.text("gen_random_uuid()")),
)
sa.Index("sprints_id", sprints.c.id, unique=True)

sprint_items = sa.Table(
    "sprint_items",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("sprint_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
)

# Which (tenant, workspace) scopes have data: the stale scan's list of work. Not a tenant
# table on purpose — the scan must enumerate tenants before it can act as one of them.
known_scopes = sa.Table(
    "known_scopes",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column(
        "first_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    ),
    info={"cross_tenant": "the stale scan lists scopes before it can act as their tenant"},
)

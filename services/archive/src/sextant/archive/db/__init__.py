"""Archive's tables (schema ``archive``).

Tenant tables (RLS forced in the migrations): ``staged_events`` (events waiting for their
part file; writing it deletes them), ``archived_ids`` (the ids of the events archived, to
recognise a redelivery), ``manifests``
and ``manifest_heads`` (the cold store's hash chain), ``retention_policies`` and
``legal_holds``. ``open_partitions`` is the archive's own index of the (tenant, topic,
day) partitions holding waiting events, which the flusher reads across tenants.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.outbox import spine_tables

SCHEMA = "archive"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

staged_events = sa.Table(
    "staged_events",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("specversion", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("datacontenttype", sa.Text, nullable=False),
    sa.Column("dataschema", sa.Text),
    sa.Column("workspace_id", sa.Uuid),
    sa.Column("traceparent", sa.Text),
    sa.Column("data", sa.Text),  # the JSON text
    sa.Column(
        "staged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
sa.Index(
    "staged_events_waiting",
    staged_events.c.tenant_id,
    staged_events.c.topic,
    staged_events.c.day,
    staged_events.c.time,
    staged_events.c.event_id,
)

# The ids of events written to a part (migration 0009): a row, not an update of the staged
# one, so writing a part is a delete and one narrow insert; kept ``archived_ids_days``.
archived_ids = sa.Table(
    "archived_ids",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
)

open_partitions = sa.Table(
    "open_partitions",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    # bumped by every batch that stages into it: the flusher drops the row only when
    # nothing was staged since it looked (a row lock and a re-check, not a time)
    sa.Column("touches", sa.BigInteger, nullable=False, server_default="1"),
    info={"cross_tenant": "the flusher lists waiting partitions before it can act as their tenant"},
)

manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("first_event_id", sa.Uuid, nullable=False),
    sa.Column("last_event_id", sa.Uuid, nullable=False),
    sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("schema_versions", ARRAY(sa.Text), nullable=False),
    # the workspaces its events belong to (migration 0004)
    sa.Column("workspace_ids", ARRAY(sa.Uuid), nullable=False, server_default="{}"),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("row_hash", sa.Text, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    # when PurgeRequested went out for its hot rows (migration 0004; not in the hash: the
    # chain records what was archived, this what was done with it since)
    sa.Column("purge_requested_at", sa.DateTime(timezone=True)),
    # when its object was deleted, its cold period over (migration 0007; the entry stays
    # as a tombstone, so the chain still verifies)
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("tenant_id", "seq", name="manifests_chain"),
    sa.UniqueConstraint("tenant_id", "topic", "day", "part", name="manifests_part"),
)

manifest_heads = sa.Table(
    "manifest_heads",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("row_hash", sa.Text, nullable=False),
)

retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("data_class", sa.Text, primary_key=True),
    sa.Column("hot_days", sa.Integer, nullable=False),
    sa.Column("cold_days", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)

legal_holds = sa.Table(
    "legal_holds",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),  # UUIDv7: the list's order
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("scope_kind", sa.Text, nullable=False),  # tenant, workspace, developer
    sa.Column("scope_id", sa.Uuid),  # NULL for the whole tenant
    sa.Column("starts_at", sa.DateTime(timezone=True)),  # NULL: from the beginning
    sa.Column("ends_at", sa.DateTime(timezone=True)),  # NULL: to now and on
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True)),
    sa.Column("released_by", sa.Text),
    sa.Column("release_reason", sa.Text),
)
sa.Index("legal_holds_listed", legal_holds.c.tenant_id, legal_holds.c.id)

# One row per (object, data class) whose purge was requested (migration 0005); an entry's
# purge_requested_at is set once every class of its topic has one.
purge_requests = sa.Table(
    "purge_requests",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("manifest_id", sa.Uuid, primary_key=True),
    sa.Column("data_class", sa.Text, primary_key=True),
    sa.Column("request_id", sa.Uuid, nullable=False),  # the PurgeRequested event's id
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
)

# Each owner's PurgeDone against its request (a redelivered answer is recorded once).
purge_answers = sa.Table(
    "purge_answers",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("manifest_id", sa.Uuid, primary_key=True),
    sa.Column("data_class", sa.Text, primary_key=True),
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("rows_deleted", sa.BigInteger, nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
)

# A restore (migration 0006): the selection, its progress (objects done up to after_seq,
# the manifest seq last published) and a lease, so a replica that dies mid-way is
# taken over.
restores = sa.Table(
    "restores",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),  # UUIDv7
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("topics", ARRAY(sa.Text), nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("workspace_id", sa.Uuid),
    sa.Column("status", sa.Text, nullable=False),  # pending, running, done, failed
    sa.Column("objects_total", sa.Integer),
    sa.Column("objects_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("events_published", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("after_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failure", sa.Text),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    info={"cross_tenant": "the restore worker takes the next open restore of any tenant"},
)
sa.Index("restores_open", restores.c.status, restores.c.lease_until)

archived_tenants = sa.Table(
    "archived_tenants",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    info={"cross_tenant": "the purge run lists the tenants with archived objects to visit each"},
)

# A soft-deleted tenant or workspace (migration 0008), noted from the gateway's
# announcement: once its grace period is over and a copy of its events verifies, its scope
# purge is requested (once: request_id) by the purge run holding the row's lease.
scope_purges = sa.Table(
    "scope_purges",
    metadata,
    sa.Column(
        "id", sa.Uuid, primary_key=True
    ),  # the soft-delete event's: the request's manifest_id
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("scope_kind", sa.Text, nullable=False),  # tenant, workspace
    sa.Column("workspace_id", sa.Uuid),
    sa.Column("restorable_until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("held_back", sa.Text),  # why the last run did not request it
    sa.Column("request_id", sa.Uuid),
    sa.Column("requested_at", sa.DateTime(timezone=True)),
    info={"cross_tenant": "the purge run lists the scopes whose grace period is over"},
)
sa.Index(
    "scope_purges_due",
    scope_purges.c.restorable_until,
    postgresql_where=scope_purges.c.requested_at.is_(None),
)

# A tenant's purge of work items deleted in their tool (migration 0010): the manifest seq up
# to which the objects of the work items' topics verified, and the last request (cut-off
# and holds), so a run asks again only when the cut-off moved or the holds changed.
deleted_item_purges = sa.Table(
    "deleted_item_purges",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("verified_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("older_than", sa.DateTime(timezone=True)),
    sa.Column("holds", JSONB),  # the last request's, as sent
    sa.Column("request_id", sa.Uuid),
    sa.Column("requested_at", sa.DateTime(timezone=True)),
    sa.Column("held_back", sa.Text),  # why the last run did not ask
)

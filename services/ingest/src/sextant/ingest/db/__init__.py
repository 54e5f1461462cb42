"""Ingest's tables (schema ``ingest``): source connections, their webhook routes, and the
raw deliveries kept for replay. Rows never leave this package — :mod:`repository`
returns plain values.

Raw bodies are stored compressed, with the codec named in the row: LZ4 (frame format)
since revision 0005 — a 28 KB GitHub payload keeps as about 4.6 KB for ~11 µs of CPU,
where zlib level 1 took ~50 µs on the webhook hot path for 3.7 KB; rows from before keep
zlib. Less WAL and I/O per delivery, years of history kept cheaply.

``sources`` and ``deliveries`` are tenant tables (RLS forced in the migration).
``hook_routes`` is the one cross-tenant table: a webhook names only its source id, so the
route says which tenant to act as before anything of the tenant's is read.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.outbox import spine_tables

SCHEMA = "ingest"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

hook_routes = sa.Table(
    "hook_routes",
    metadata,
    sa.Column("source_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    info={"cross_tenant": "a webhook names only its source; this says whose it is"},
)

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
    sa.Column("credentials_sealed", sa.LargeBinary),
    sa.Column("mapping", JSONB, nullable=False),
    sa.Column("signature_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    # Set while its tenant or workspace is soft-deleted (the lifecycle events); kept apart
    # from disabled_at so a restore brings back exactly the sources that were enabled.
    sa.Column("suspended_at", sa.DateTime(timezone=True)),
)
sa.Index("sources_workspace", sources.c.tenant_id, sources.c.workspace_id)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("source_id", sa.Uuid, nullable=False),
    sa.Column("delivery_id", sa.Text, nullable=False),
    sa.Column("event", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # the raw body, compressed
    sa.Column("body_codec", sa.Text, nullable=False),  # lz4 | zlib
    sa.Column("outcome", sa.Text, nullable=False),  # normalized | ignored | failed
    sa.Column("reason", sa.Text),
    sa.Column("event_count", sa.Integer, nullable=False),
    # digest of the facts and their mapping-decided values (normalize.base.meaning_of)
    sa.Column("meaning", sa.LargeBinary),
    sa.UniqueConstraint("source_id", "delivery_id", name="deliveries_once"),
)
sa.Index("deliveries_received", deliveries.c.source_id, deliveries.c.received_at)
# the retention purges: a tenant's deliveries by time, without reading other tenants'
sa.Index("deliveries_tenant_received", deliveries.c.tenant_id, deliveries.c.received_at)

backfills = sa.Table(
    "backfills",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("source_id", sa.Uuid, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # running | succeeded | failed
    sa.Column("checkpoint", JSONB, nullable=False),  # resource -> next page ("" when done)
    sa.Column("progress", JSONB, nullable=False),  # resource -> pages, items, events
    sa.Column("error", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)
sa.Index("backfills_source", backfills.c.source_id, backfills.c.started_at)

# Jira OAuth 2.0 (3LO): a consent under way, named only by its state in the callback —
# so not a tenant table: the state says whose it is. One row per start; used once.
oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("state_hash", sa.LargeBinary, primary_key=True),  # SHA-256 of the state
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("source_id", sa.Uuid, nullable=False),
    sa.Column("started_by", sa.Text, nullable=False),
    sa.Column("verifier_sealed", sa.LargeBinary, nullable=False),  # PKCE code_verifier
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    info={"cross_tenant": "an OAuth callback names only its state; this says whose it is"},
)
sa.Index("oauth_states_expiry", oauth_states.c.expires_at)

# A source's OAuth grant: the access and rotating refresh tokens, sealed (bound to the
# source, as its credentials are), and where the API is.
oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("source_id", sa.Uuid, primary_key=True),
    sa.Column("tokens_sealed", sa.LargeBinary, nullable=False),  # {access_token, refresh_token}
    sa.Column("cloud_id", sa.Text, nullable=False),
    sa.Column("site_url", sa.Text, nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),  # the access token's
    sa.Column("status", sa.Text, nullable=False),  # connected | needs_reconnect
    sa.Column("error", sa.Text),
    sa.Column("connected_by", sa.Text, nullable=False),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refreshed_at", sa.DateTime(timezone=True)),
)

# When each connected grant is next refreshed: the refresher lists these before it can
# act as their tenant (no tokens here).
oauth_refreshes = sa.Table(
    "oauth_refreshes",
    metadata,
    sa.Column("source_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("refresh_at", sa.DateTime(timezone=True), nullable=False),
    info={"cross_tenant": "the token refresher lists grants before it can act as their tenant"},
)
sa.Index("oauth_refreshes_due", oauth_refreshes.c.refresh_at)

# Gate results posted back to the tools (sextant.ingest.checks): one row per source,
# repository, SHA and environment — a later evaluation of the same updates the same
# GitHub check run (``external_ref`` is its id) or GitLab commit status — and the
# cross-tenant queue the posters lease from.
check_runs = sa.Table(
    "check_runs",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("source_id", sa.Uuid, nullable=False),
    sa.Column("repository", sa.Text, nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("evaluation_id", sa.Uuid, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("external_ref", sa.Text),
    sa.Column("status", sa.Text, nullable=False),  # pending | posted | failed | skipped
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("source_id", "repository", "sha", "environment"),
)

check_run_queue = sa.Table(
    "check_run_queue",
    metadata,
    sa.Column("check_run_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    info={"cross_tenant": "a poster takes the next due check run of any tenant"},
)
sa.Index("check_run_queue_due", check_run_queue.c.due_at)

# The commit lists of merges webhooks brought (sextant.ingest.commits): one row per
# source and change request; ``commit_shas`` and ``next_page`` are the checkpoint (the
# SHAs read so far, and the page that continues them), and the cross-tenant queue the
# listers lease from.
commit_lists = sa.Table(
    "commit_lists",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("source_id", sa.Uuid, nullable=False),
    sa.Column("delivery_id", sa.Uuid, nullable=False),  # deliveries.id: the merge's webhook
    sa.Column("repository", sa.Text, nullable=False),  # GitHub owner/name, GitLab project id
    sa.Column("number", sa.BigInteger, nullable=False),  # pull request number, MR iid
    sa.Column("status", sa.Text, nullable=False),  # pending | listed | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("commit_shas", ARRAY(sa.Text), nullable=False),
    sa.Column("next_page", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # when it was listed or given up (its revision published); None while pending: the
    # time retention purges it by (sextant.ingest.retention)
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("source_id", "repository", "number"),
)
# The retention purge's read: a tenant's lists finished before a time (retention.py).
sa.Index(
    "commit_lists_finished",
    commit_lists.c.tenant_id,
    commit_lists.c.finished_at,
    postgresql_where=commit_lists.c.finished_at.is_not(None),
)

commit_list_queue = sa.Table(
    "commit_list_queue",
    metadata,
    sa.Column("commit_list_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    info={"cross_tenant": "a lister takes the next due commit list of any tenant"},
)
sa.Index("commit_list_queue_due", commit_list_queue.c.due_at)

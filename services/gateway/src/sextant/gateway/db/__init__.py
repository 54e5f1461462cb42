"""Gateway's tables (schema ``gateway``): tenants, workspaces, views, API keys, the audit
log and the notifications it serves. Rows never leave this package: :mod:`repository`
returns plain values.

``tenants`` has no ``tenant_id`` (it *is* the tenant) and is read only by platform-admin
routes and by authentication. ``api_key_routes`` is the one cross-tenant lookup: an API
key names only its id, and the route says which tenant to act as before anything of
the tenant's is read (as ingest's ``hook_routes`` does for webhooks); so is
``browser_sessions``, found by the cookie alone (a platform admin's names no tenant), and
``oidc_sign_ins``, started before anyone is known. ``seal_marks`` holds the platform's
own marks, no tenant's.
Every other table is a tenant table with forced RLS.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from sextant.runtime.outbox import spine_tables

SCHEMA = "gateway"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("restorable_until", sa.DateTime(timezone=True)),
    sa.Column("purged_at", sa.DateTime(timezone=True)),  # its rows deleted: not restorable
)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("restorable_until", sa.DateTime(timezone=True)),
    sa.Column("purged_at", sa.DateTime(timezone=True)),  # its rows deleted: not restorable
)
sa.Index("workspaces_tenant", workspaces.c.tenant_id, workspaces.c.created_at)

views = sa.Table(
    "views",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("workspace_ids", ARRAY(sa.Uuid), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
sa.Index("views_tenant", views.c.tenant_id, views.c.created_at)

api_key_routes = sa.Table(
    "api_key_routes",
    metadata,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    info={"cross_tenant": "an API key names only its id; this says whose it is"},
)

# The portal's sign-in sessions: only the cookie's digest is kept; ``link_jti`` makes a
# one-time sign-in link good for one session: a row is kept until both the session and
# its link have expired (a signed-out session's link stays spent).
browser_sessions = sa.Table(
    "browser_sessions",
    metadata,
    sa.Column("id_sha256", sa.LargeBinary, primary_key=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Uuid),
    sa.Column("link_jti", sa.Text, unique=True),
    sa.Column("link_expires_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    info={"cross_tenant": "a session is found by its cookie before any tenant is known"},
)
sa.Index("browser_sessions_expiry", browser_sessions.c.expires_at)

# An OIDC sign-in the portal started: its state (as SHA-256), the PKCE verifier and the
# nonce, until the provider sends the browser back; a callback claims it once.
oidc_sign_ins = sa.Table(
    "oidc_sign_ins",
    metadata,
    sa.Column("state_sha256", sa.LargeBinary, primary_key=True),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("sealed_verifier", sa.LargeBinary, nullable=False),  # the PKCE verifier, sealed
    sa.Column("nonce", sa.Text, nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    info={"cross_tenant": "a sign-in is started before anyone, or any tenant, is known"},
)
sa.Index("oidc_sign_ins_expiry", oidc_sign_ins.c.expires_at)

# What the start's sealing pass finished under: a value sealed with the key it ran under
# (no tenant's: the pass walks them all). See subscriptions.seal_at_start.
seal_marks = sa.Table(
    "seal_marks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("key_id", sa.Text, nullable=False, unique=True),
    sa.Column("secret_sha256", sa.LargeBinary, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

# The audit log: one hash chain per tenant (the nil UUID is the platform's own chain).
# The app role may only SELECT and INSERT here (the migration revokes the rest), and
# ``audit_heads`` holds each chain's last row, so removing the newest row is caught too.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target_type", sa.Text, nullable=False),
    sa.Column("target_id", sa.Text, nullable=False),
    sa.Column("before", JSONB),
    sa.Column("after", JSONB),
    sa.Column("request_id", sa.Text),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "seq"),
)
sa.Index("audit_log_action", audit_log.c.tenant_id, audit_log.c.action, audit_log.c.seq)

audit_heads = sa.Table(
    "audit_heads",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
)

# Where a chain starts once its oldest rows were purged (migration 0007): written only by
# ``purge_audit_prefix``, the one way the service may delete audit rows.
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),  # the last purged row
    sa.Column("hash", sa.Text, nullable=False),  # its hash: the next row's prev_hash
    sa.Column("purged", sa.BigInteger, nullable=False),  # rows purged in all
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("id", sa.Uuid, nullable=False, unique=True),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("audience", ARRAY(sa.Text), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("raised_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("notifications_tenant", notifications.c.tenant_id, notifications.c.seq)

notification_reads = sa.Table(
    "notification_reads",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("notification_id", sa.Uuid, primary_key=True),
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
)

# Partner subscriptions (signed outbound webhooks): what a tenant subscribed to, each
# event's delivery to each subscription (the delivery log), and the cross-tenant queue the
# delivery workers lease from. The signing secret is kept sealed (``sealed_secret``, the
# runtime's SecretBox bound to the subscription's id): a delivery is signed with it, so it
# cannot be a digest. ``secret`` holds plaintext only in rows from before migration 0005,
# until the gateway's start seals them.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("event_types", ARRAY(sa.Text), nullable=False),
    sa.Column("secret", sa.Text),
    sa.Column("sealed_secret", sa.LargeBinary),
    sa.Column("status", sa.Text, nullable=False),  # active | disabled
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
sa.Index("subscriptions_tenant", subscriptions.c.tenant_id, subscriptions.c.id)

subscription_deliveries = sa.Table(
    "subscription_deliveries",
    metadata,
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("subscription_id", sa.Uuid, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the bytes signed, the same on every try
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | failed | abandoned
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("subscription_id", "event_id"),
)
sa.Index(
    "subscription_deliveries_log",
    subscription_deliveries.c.tenant_id,
    subscription_deliveries.c.subscription_id,
    subscription_deliveries.c.id,
)

delivery_queue = sa.Table(
    "delivery_queue",
    metadata,
    sa.Column("delivery_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("subscription_id", sa.Uuid, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    info={"cross_tenant": "a delivery worker takes the next due delivery of any tenant"},
)
sa.Index("delivery_queue_due", delivery_queue.c.due_at)
sa.Index("delivery_queue_subscription", delivery_queue.c.subscription_id)

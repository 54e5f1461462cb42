"""Reports's tables (schema ``reports``).

``reports`` holds every job (tenant rows under row-level security); ``render_queue`` is the
worker's cross-tenant list of jobs to render, leased so a crashed worker's job is taken up
again once its lease runs out. ``report_schedules`` holds each tenant's schedules (under
row-level security) and ``schedule_clock`` the cross-tenant time each one runs next, which
the scheduler reads and advances; ``file_expiry`` the cross-tenant time each rendered
file expires, which the retention sweep reads; ``object_deletions`` the object-store keys
and prefixes to clear once what queued them committed (a tenant's purge, a file's expiry, a
render whose job a purge took), which the same pass deletes.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData

from sextant.runtime.outbox import spine_tables

SCHEMA = "reports"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("scope_workspaces", sa.ARRAY(sa.Uuid), nullable=False),
    sa.Column("period_from", sa.Date, nullable=False),
    sa.Column("period_to", sa.Date, nullable=False),
    sa.Column("time_zone", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requester_role", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("progress", sa.Integer, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("object_key", sa.Text),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("sha256", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("schedule_id", sa.Uuid),
    sa.Column("notify", sa.ARRAY(sa.Text)),
    sa.Column("items", sa.Integer),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("tenants", sa.ARRAY(sa.Uuid)),  # rollup: the tenants side by side
    sa.Column("definition", sa.Text),  # rollup: the DORA definition asked for
    sa.Index("reports_tenant_id", "tenant_id", "id"),
)

render_queue = sa.Table(
    "render_queue",
    metadata,
    sa.Column("report_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    info={"cross_tenant": "the worker takes the next job of any tenant, then works as it"},
)

report_schedules = sa.Table(
    "report_schedules",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("scope_workspaces", sa.ARRAY(sa.Uuid), nullable=False),
    sa.Column("every", sa.Text, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("at", sa.Time, nullable=False),
    sa.Column("time_zone", sa.Text, nullable=False),
    sa.Column("notify", sa.ARRAY(sa.Text), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("creator_role", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_run_at", sa.DateTime(timezone=True)),
    sa.Column("last_report_id", sa.Uuid),
    # a purge left its scope no workspace: off the clock, it no longer runs (migration 0006)
    sa.Column("paused_at", sa.DateTime(timezone=True)),
    sa.Index("report_schedules_tenant_id", "tenant_id", "id"),
)

schedule_clock = sa.Table(
    "schedule_clock",
    metadata,
    sa.Column("schedule_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("schedule_clock_next_run_at", "next_run_at"),
    info={"cross_tenant": "the scheduler finds every tenant's due schedules, then works as it"},
)

file_expiry = sa.Table(
    "file_expiry",
    metadata,
    sa.Column("report_id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("file_expiry_expires_at", "expires_at"),
    info={"cross_tenant": "the sweeper finds every tenant's expired files, then works as it"},
)

rollup_grants = sa.Table(
    "rollup_grants",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),  # the granting tenant (RLS)
    sa.Column("grantee_tenant_id", sa.Uuid, nullable=False),
    sa.Column("granted_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("rollup_grants_tenant_id", "tenant_id", "id"),
    sa.Index("rollup_grants_grantee", "tenant_id", "grantee_tenant_id", unique=True),
)

object_deletions = sa.Table(
    "object_deletions",
    metadata,
    # a key or key prefix: every object under it goes (a purged tenant's files and logo, an
    # expired file, a file rendered for a job a purge took)
    sa.Column("prefix", sa.Text, primary_key=True),
    sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
)

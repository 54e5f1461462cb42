"""Insights's tables (schema ``insights``): the projections of attributed activity the
read API answers from and the metrics are computed from.

Every table is a tenant table (RLS forced in the migration); rows never leave this
package — repository functions return plain values and dataclasses. Records are keyed by
what the tool calls them (``uuid5`` of source connection and external id), so a
redelivered event lands on the row it made the first time.
"""

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

from sextant.runtime.outbox import spine_tables

SCHEMA = "insights"
MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData(schema=SCHEMA)
spine = spine_tables(metadata)


LEAD_SECONDS = "extract(epoch from deployed_at - coalesce(first_commit_at, opened_at))"


def _timestamp(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


change_requests = sa.Table(
    "change_requests",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("repository_id", sa.Text, nullable=False),
    sa.Column("repository", sa.Text, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("author_developer_id", sa.Uuid),
    sa.Column("author_is_bot", sa.Boolean, nullable=False),
    sa.Column("author_alias_id", sa.Uuid),
    sa.Column("base_branch", sa.Text, nullable=False),
    sa.Column("head_branch", sa.Text, nullable=False),
    sa.Column("into_default_branch", sa.Boolean),
    sa.Column("draft", sa.Boolean, nullable=False),
    sa.Column("labels", ARRAY(sa.Text), nullable=False, server_default="{}"),
    _timestamp("opened_at", nullable=False),
    _timestamp("first_commit_at"),
    _timestamp("first_review_at"),
    _timestamp("merged_at"),
    sa.Column("merge_sha", sa.Text),
    sa.Column("commit_shas", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("commits_source", sa.Text),  # listed | pending | head_only; None: not said
    _timestamp("closed_at"),
    _timestamp("snapshot_at", nullable=False),
    sa.Column("deployment_id", sa.Uuid),
    _timestamp("deployed_at"),
    # The lead time for changes in seconds (first commit, else opening, to the production
    # deployment), kept by PostgreSQL from the row's own columns at every write: a relink, a
    # first commit moving or a replay cannot leave it stale. The DORA median reads it from
    # the index below instead of computing it per change per call.
    sa.Column(
        "lead_seconds",
        DOUBLE_PRECISION,
        sa.Computed(LEAD_SECONDS, persisted=True),
    ),
)
sa.Index(
    "change_requests_repository",
    change_requests.c.tenant_id,
    change_requests.c.workspace_id,
    change_requests.c.repository_id,
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("change_request_id", sa.Uuid, primary_key=True),
    sa.Column("review_id", sa.Text, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("reviewer_developer_id", sa.Uuid),
    sa.Column("reviewer_is_bot", sa.Boolean, nullable=False),
    sa.Column("reviewer_alias_id", sa.Uuid),
    sa.Column("state", sa.Text, nullable=False),
    _timestamp("submitted_at", nullable=False),
)

# A commit as first pushed (its author and time); the branch it came on lets a change
# request find its first commit before it merges.
commits = sa.Table(
    "commits",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, primary_key=True),
    sa.Column("repository_id", sa.Text, primary_key=True),
    sa.Column("sha", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("author_developer_id", sa.Uuid),
    sa.Column("author_is_bot", sa.Boolean, nullable=False),
    sa.Column("author_alias_id", sa.Uuid),
    _timestamp("authored_at", nullable=False),
    _timestamp("committed_at"),
    sa.Column("branch", sa.Text, nullable=False),
    _timestamp("pushed_at", nullable=False),
)

# Every push, as the ancestry the deployment linkage walks (domain/linkage.py).
pushes = sa.Table(
    "pushes",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("repository_id", sa.Text, nullable=False),
    sa.Column("branch", sa.Text, nullable=False),
    sa.Column("into_default_branch", sa.Boolean),
    sa.Column("before_sha", sa.Text),
    sa.Column("after_sha", sa.Text, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("commit_shas", ARRAY(sa.Text), nullable=False),
    sa.Column("pusher_developer_id", sa.Uuid),
    sa.Column("pusher_is_bot", sa.Boolean, nullable=False),
    _timestamp("pushed_at", nullable=False),
)
sa.Index("pushes_repository", pushes.c.tenant_id, pushes.c.workspace_id, pushes.c.repository_id)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("repository_id", sa.Text),
    sa.Column("repository", sa.Text),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("sha", sa.Text),
    sa.Column("branch", sa.Text),
    _timestamp("started_at"),
    _timestamp("finished_at", nullable=False),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("triggered_by_developer_id", sa.Uuid),
    sa.Column("triggered_by_is_bot", sa.Boolean, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("repository_id", sa.Text),
    sa.Column("repository", sa.Text),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("is_production", sa.Boolean, nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    _timestamp("status_at", nullable=False),
    _timestamp("started_at"),
    _timestamp("finished_at"),
    _timestamp("succeeded_at"),
    sa.Column("deployed_by_developer_id", sa.Uuid),
    sa.Column("deployed_by_is_bot", sa.Boolean, nullable=False),
)
sa.Index(
    "deployments_repository",
    deployments.c.tenant_id,
    deployments.c.workspace_id,
    deployments.c.repository_id,
)

# What each successful deployment shipped (domain/linkage.py); recomputed per repository.
deployment_changes = sa.Table(
    "deployment_changes",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("deployment_id", sa.Uuid, primary_key=True),
    sa.Column("change_request_id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("repository_id", sa.Text, nullable=False),
    sa.Column("counted", sa.Boolean, nullable=False),
)
sa.Index(
    "deployment_changes_repository",
    deployment_changes.c.tenant_id,
    deployment_changes.c.workspace_id,
    deployment_changes.c.repository_id,
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("severity", sa.Text),
    sa.Column("service", sa.Text),
    sa.Column("deployment_sha", sa.Text),
    _timestamp("opened_at", nullable=False),
    _timestamp("resolved_at"),
    _timestamp("snapshot_at", nullable=False),
)

# The local alias map: every developer id identity announced and the one it is now
# (a merged developer points at the survivor), with identity's bot flag.
developers = sa.Table(
    "developers",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("developer_id", sa.Uuid, primary_key=True),
    sa.Column("current_id", sa.Uuid, nullable=False),
    sa.Column("is_bot", sa.Boolean, nullable=False, server_default=sa.false()),
)

# DeveloperMetrics (db/developer_days.py): who did what per UTC day, by the developer id each
# record reads as now; recomputed from the rows above, never accumulated. The indexes are
# the recompute's reads by person.
sa.Index(
    "commits_author", commits.c.tenant_id, commits.c.author_developer_id, commits.c.authored_at
)
sa.Index(
    "change_requests_author",
    change_requests.c.tenant_id,
    change_requests.c.author_developer_id,
    change_requests.c.opened_at,
)
sa.Index(
    "reviews_reviewer", reviews.c.tenant_id, reviews.c.reviewer_developer_id, reviews.c.submitted_at
)
sa.Index(
    "change_requests_author_merged",
    change_requests.c.tenant_id,
    change_requests.c.author_developer_id,
    change_requests.c.merged_at,
)

developer_day_rows = sa.Table(
    "developer_days",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("developer_id", sa.Uuid, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("changes_opened", sa.Integer, nullable=False),
    sa.Column("changes_merged", sa.Integer, nullable=False),
    sa.Column("reviews_given", sa.Integer, nullable=False),
    sa.Column("review_latency_hours_sum", sa.Float, nullable=False),
    sa.Column("review_latency_count", sa.Integer, nullable=False),
    sa.Column("cycle_time_hours", ARRAY(sa.Float), nullable=False),
    sa.Column("cycle_time_p50_hours", sa.Float),
    sa.Column("cycle_time_p85_hours", sa.Float),
    sa.Column("wip", sa.Integer, nullable=False),
)

# Per-tenant switches set through the API (audited by the gateway's log).
tenant_settings = sa.Table(
    "tenant_settings",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("developer_metrics_enabled", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    _timestamp("updated_at", nullable=False),
)

# A work item's status-category milestones, for the flow metrics (forecast keeps the rest):
# the first move into progress, the latest category and since when, done_at when that is done.
work_items = sa.Table(
    "work_items",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("assignee_developer_id", sa.Uuid),
    sa.Column("category", sa.Text, nullable=False),
    _timestamp("category_at", nullable=False),
    _timestamp("started_at"),
    _timestamp("done_at"),
    _timestamp("deleted_at"),
)
sa.Index("work_items_workspace", work_items.c.tenant_id, work_items.c.workspace_id)

# Teams as identity announces them (db/teams.py): a team's name and soft deletion, each dated
# membership keyed by the developer it was given to (read as that developer reads now), and
# the user a tenant admin linked to a developer (what "my history" and "my teams" mean).
team_rows = sa.Table(
    "teams",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text),
    _timestamp("deleted_at"),
)
team_memberships = sa.Table(
    "team_memberships",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("team_id", sa.Uuid, nullable=False),
    sa.Column("developer_id", sa.Uuid, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date),
)
sa.Index("team_memberships_team", team_memberships.c.tenant_id, team_memberships.c.team_id)
user_links = sa.Table(
    "user_links",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("developer_id", sa.Uuid, nullable=False),
)

# The DORA keys' sums (db/reads.py dora_tally): a scope's records by workspace and time.
sa.Index(
    "deployments_production_succeeded",
    deployments.c.tenant_id,
    deployments.c.workspace_id,
    deployments.c.succeeded_at,
    postgresql_include=["repository", "id"],
    postgresql_where=sa.and_(deployments.c.is_production, deployments.c.status == "success"),
)
sa.Index(
    "change_requests_lead_times",
    change_requests.c.tenant_id,
    change_requests.c.workspace_id,
    change_requests.c.deployed_at,
    postgresql_include=["lead_seconds", "author_developer_id", "author_is_bot"],
    postgresql_where=change_requests.c.deployment_id.is_not(None),
)
sa.Index("incidents_opened", incidents.c.tenant_id, incidents.c.workspace_id, incidents.c.opened_at)

# DORA's facts of the rows a class purge deletes (retention.py moves them in the deleting
# statement), so DORA for a period survives the purge of the projections behind it: the
# production deployments, the shipped changes (their lead time generated as on the live
# row) and the incidents. Never class-purged; a scope purge deletes them. The DORA reads
# take a live row over its kept copy (db/reads.py), so a restore's replay counts once.
kept_deployments = sa.Table(
    "kept_deployments",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("repository", sa.Text),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    _timestamp("succeeded_at"),
)
sa.Index(
    "kept_deployments_succeeded",
    kept_deployments.c.tenant_id,
    kept_deployments.c.workspace_id,
    kept_deployments.c.succeeded_at,
    postgresql_include=["repository", "id"],
    postgresql_where=kept_deployments.c.status == "success",
)
sa.Index(  # the incidents' blamed SHAs, as deployments_sha on the live rows
    "kept_deployments_sha",
    kept_deployments.c.tenant_id,
    kept_deployments.c.workspace_id,
    kept_deployments.c.sha,
)
kept_changes = sa.Table(
    "kept_changes",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("author_developer_id", sa.Uuid),
    sa.Column("author_is_bot", sa.Boolean, nullable=False),
    _timestamp("opened_at", nullable=False),
    _timestamp("first_commit_at"),
    sa.Column("deployment_id", sa.Uuid),
    _timestamp("deployed_at"),
    sa.Column("lead_seconds", DOUBLE_PRECISION, sa.Computed(LEAD_SECONDS, persisted=True)),
)
sa.Index(
    "kept_changes_deployed",
    kept_changes.c.tenant_id,
    kept_changes.c.workspace_id,
    kept_changes.c.deployed_at,
    postgresql_include=["lead_seconds", "author_developer_id", "author_is_bot"],
    postgresql_where=kept_changes.c.deployment_id.is_not(None),
)
kept_incidents = sa.Table(
    "kept_incidents",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("workspace_id", sa.Uuid, nullable=False),
    sa.Column("service", sa.Text),
    sa.Column("deployment_sha", sa.Text),
    _timestamp("opened_at", nullable=False),
    _timestamp("resolved_at"),
)
sa.Index(
    "kept_incidents_opened",
    kept_incidents.c.tenant_id,
    kept_incidents.c.workspace_id,
    kept_incidents.c.opened_at,
)

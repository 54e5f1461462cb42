"""Events of the services downstream of ingest: attribution, identity, forecast,
insights, gates, lifecycle (archive), reports, notifications and config/audit."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from sextant.contracts.events.common import Actor
from sextant.contracts.registry import EventModel, event_type
from sextant.contracts.topics import (
    ACTIVITY_ATTRIBUTED,
    CONFIG,
    FORECAST,
    GATES,
    IDENTITY,
    INSIGHTS,
    LIFECYCLE,
    NOTIFICATIONS,
    REPORTS,
)

Role = Literal["platform_admin", "tenant_admin", "manager", "member", "partner"]


class Attribution(EventModel):
    """One actor reference of the original event and the developer it resolved to."""

    path: str = Field(
        description="where the actor sits in the original data, e.g. change_request.author"
    )
    actor: Actor
    developer_id: UUID
    alias_id: UUID | None = Field(
        default=None,
        description="identity's alias the actor is known by; a split or an alias move names "
        "aliases, so a consumer keeping it can give each side back its own events",
    )


@event_type("sextant.activity.attributed.v1", topic=ACTIVITY_ATTRIBUTED)
class ActivityAttributed(EventModel):
    """An activity event with developer ids resolved, in the same per-key order."""

    original_id: UUID
    original_type: str
    original: dict[str, Any] = Field(description="the original event's data, unchanged")
    attributions: list[Attribution] = Field(default_factory=list)


# identity ------------------------------------------------------------------------------


@event_type("sextant.identity.developer.created.v1", topic=IDENTITY)
class DeveloperCreated(EventModel):
    developer_id: UUID
    display_name: str | None = None
    is_bot: bool = False


@event_type("sextant.identity.developers.merged.v1", topic=IDENTITY)
class DevelopersMerged(EventModel):
    """``merged_ids`` now belong to ``survivor_id``: per-developer history must follow."""

    survivor_id: UUID
    merged_ids: list[UUID] = Field(min_length=1)
    rule: str = Field(description="'manual' or the matching rule that merged them")
    score: float | None = None
    actor: str | None = Field(default=None, description="who merged, when manual")


@event_type("sextant.identity.developer.split.v1", topic=IDENTITY)
class DeveloperSplit(EventModel):
    from_developer_id: UUID
    new_developer_id: UUID
    alias_ids: list[UUID] = Field(min_length=1)
    actor: str | None = None


@event_type("sextant.identity.alias.moved.v1", topic=IDENTITY)
class AliasMoved(EventModel):
    alias_id: UUID
    from_developer_id: UUID
    to_developer_id: UUID
    actor: str | None = None


@event_type("sextant.identity.developer.lock_changed.v1", topic=IDENTITY)
class DeveloperLockChanged(EventModel):
    developer_id: UUID
    locked: bool
    actor: str | None = None


@event_type("sextant.identity.merge.suggested.v1", topic=IDENTITY)
class MergeSuggested(EventModel):
    """A suggestion for a person to decide: merge two developers, or (``kind`` "split")
    move ``alias_ids`` out of the developer named twice in ``developer_ids``: a name link
    that no longer holds against the tenant's names now, or an address found shared.

    ``kind`` and ``alias_ids`` were added later, optional, so a reader of the first
    schema still reads every merge suggestion as before."""

    suggestion_id: UUID
    developer_ids: list[UUID] = Field(min_length=2)
    rule: str
    score: float = Field(ge=0, le=1)
    evidence: list[str] = Field(default_factory=list)
    kind: Literal["merge", "split"] = Field(
        default="merge",
        description="merge: the two developers are likely one person; split: the aliases "
        "named in alias_ids are likely someone else than the developer holding them",
    )
    alias_ids: list[UUID] = Field(
        default_factory=list, description="the aliases a split suggestion would move out"
    )


@event_type("sextant.identity.team.created.v1", topic=IDENTITY)
class TeamCreated(EventModel):
    team_id: UUID
    name: str
    actor: str | None = None


@event_type("sextant.identity.team.deleted.v1", topic=IDENTITY)
class TeamDeleted(EventModel):
    """The team was soft-deleted: its scope answers 410; its memberships stay history."""

    team_id: UUID
    actor: str | None = None


@event_type("sextant.identity.team.membership_changed.v1", topic=IDENTITY)
class TeamMembershipChanged(EventModel):
    """A developer's span of days in a team, as it stands now (keyed by ``membership_id``).

    The membership names the developer it was given to; like an attribution it reads as
    whoever that developer reads as now: a merge takes it to the survivor, a split that
    restores a developer gives it back, a split into a new developer leaves it where it was.
    """

    membership_id: UUID
    team_id: UUID
    developer_id: UUID
    starts_on: date = Field(description="first day in the team (UTC)")
    ends_on: date | None = Field(default=None, description="last day in the team, inclusive")
    removed: bool = Field(default=False, description="true: the membership no longer exists")
    actor: str | None = None


@event_type("sextant.identity.developer.user_linked.v1", topic=IDENTITY)
class DeveloperUserLinked(EventModel):
    """A tenant admin linked a user (the gateway's token subject) to a developer, or unlinked
    it (``user_id`` null): what a member's own history and teams are."""

    developer_id: UUID
    user_id: str | None = Field(description="the user's subject; null: the link was removed")
    previous_user_id: str | None = Field(
        default=None, description="the user linked before, whose link this ends"
    )
    actor: str | None = None


# forecast ------------------------------------------------------------------------------


@event_type("sextant.forecast.computed.v1", topic=FORECAST)
class ForecastComputed(EventModel):
    kind: Literal["when", "how_many", "sprint"]
    scope: str = Field(description="workspace:<id> or view:<id>")
    percentiles: dict[str, float] = Field(description="e.g. {'p50': 12, 'p85': 9}")
    trials: int = Field(gt=0)
    inputs: dict[str, Any] = Field(default_factory=dict)


@event_type("sextant.forecast.work_item.flagged_stale.v1", topic=FORECAST)
class WorkItemFlaggedStale(EventModel):
    work_item_key: str
    state: str
    age_days: float = Field(ge=0)
    percentile: float = Field(ge=0, le=100)
    score: float
    explanation: str


@event_type("sextant.forecast.stale_flag.dismissed.v1", topic=FORECAST)
class StaleFlagDismissed(EventModel):
    work_item_key: str
    dismissed_by: str
    reason: str | None = None


# insights ------------------------------------------------------------------------------


@event_type("sextant.insights.metrics.computed.v1", topic=INSIGHTS)
class MetricsComputed(EventModel):
    scope: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    metrics: dict[str, float | None] = Field(
        description="e.g. deployment_frequency, lead_time_p50_hours"
    )


@event_type("sextant.insights.suggestion.created.v1", topic=INSIGHTS)
class SuggestionCreated(EventModel):
    suggestion_id: UUID
    scope: str
    title: str
    body: str
    generator: Literal["llm", "deterministic"]
    evidence: list[str] = Field(
        default_factory=list, description="the ids of the findings it rests on"
    )
    kind: str | None = Field(default=None, description="e.g. pairing, knowledge_silo")
    severity: Literal["low", "medium", "high"] | None = None
    people: list[UUID] = Field(default_factory=list, description="developer ids it is about")
    run_id: UUID | None = None


@event_type("sextant.insights.suggestion.feedback_recorded.v1", topic=INSIGHTS)
class SuggestionFeedbackRecorded(EventModel):
    suggestion_id: UUID
    verdict: Literal["confirmed", "rejected", "snoozed"]
    by: str
    comment: str | None = None
    kind: str | None = Field(default=None, description="the suggestion's kind")


# gates ---------------------------------------------------------------------------------


class GateRuleResult(EventModel):
    """One rule of a gate: its outcome, why, and the ids of the facts behind it."""

    rule: str
    outcome: Literal["pass", "warn", "fail", "unknown"]
    enforcement: Literal["block", "warn"]
    reason: str
    facts: list[str] = Field(default_factory=list, description="e.g. review:<id>, build:<uuid>")


@event_type("sextant.gates.evaluated.v1", topic=GATES)
class GateEvaluated(EventModel):
    """A gate evaluated for a SHA and an environment under one version of a policy."""

    evaluation_id: UUID
    scope: str = Field(description="workspace:<id> or view:<id>, whose policy applied")
    repository: str
    sha: str
    environment: str
    change_request_id: UUID | None = None
    policy_version: int = Field(ge=0, description="0: the built-in default policy")
    verdict: Literal["pass", "warn", "fail", "unknown"]
    rules: list[GateRuleResult]
    requested_by: str
    evaluated_at: AwareDatetime


@event_type("sextant.gates.overridden.v1", topic=GATES)
class GateOverridden(EventModel):
    """Break-glass: a failed gate let through by someone allowed to, with the reason."""

    evaluation_id: UUID
    repository: str
    sha: str
    environment: str
    verdict: Literal["pass", "warn", "fail", "unknown"]
    overridden_by: str
    reason: str
    overridden_at: AwareDatetime


# lifecycle (archive) -------------------------------------------------------------------


@event_type("sextant.lifecycle.tenant.soft_deleted.v1", topic=LIFECYCLE)
class TenantSoftDeleted(EventModel):
    restorable_until: AwareDatetime


@event_type("sextant.lifecycle.tenant.restored.v1", topic=LIFECYCLE)
class TenantRestored(EventModel):
    restored_by: str


@event_type("sextant.lifecycle.workspace.soft_deleted.v1", topic=LIFECYCLE)
class WorkspaceSoftDeleted(EventModel):
    restorable_until: AwareDatetime


@event_type("sextant.lifecycle.workspace.restored.v1", topic=LIFECYCLE)
class WorkspaceRestored(EventModel):
    restored_by: str


@event_type("sextant.lifecycle.archive.written.v1", topic=LIFECYCLE)
class ArchiveWritten(EventModel):
    manifest_id: UUID
    object_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    row_count: int = Field(ge=0)
    covers_until: AwareDatetime


class PurgeHold(EventModel):
    """A legal hold in force when a purge was requested: the owners keep the rows it covers."""

    scope_kind: Literal["tenant", "workspace", "developer"]
    scope_id: UUID | None = Field(default=None, description="the workspace or developer")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = Field(default=None, description="exclusive")


DELETED_WORK_ITEMS = "deleted_work_items"
"""The data class of work items deleted in their tool (kept soft-deleted by their owners):
a ``PurgeRequested`` of it deletes those whose deletion is at or before ``older_than``."""


@event_type("sextant.lifecycle.purge.requested.v1", topic=LIFECYCLE)
class PurgeRequested(EventModel):
    """Owners delete their hot rows of ``data_class`` timed in ``[not_before, older_than]``
    (both inclusive) but those a hold covers; only sent after the cold copy is verified.
    A request without a ``data_class`` (an older archive) names nothing to delete.

    A scope purge (``scope`` set, ``data_class`` none) is sent once a soft-deleted tenant's or
    workspace's grace period is over and the archive has verified a copy of its events: owners
    delete every row of the tenant (or of the workspace ``workspace_id``) they declared, and
    ``manifest_id`` is the archive's record of that scope purge. An owner that predates
    scopes reads a request naming no class and deletes nothing.

    A request of class ``deleted_work_items`` (:data:`DELETED_WORK_ITEMS`, no ``topic`` nor
    ``not_before``) is sent once the tenant's grace period for work items deleted in their
    tool is over and a copy of every event up to ``older_than`` verifies: owners delete the
    items deleted at or before it (and what belongs to them) but those a hold covers, a
    hold meeting the item's life rather than its deletion; ``manifest_id`` is the
    archive's record of that request. An owner that predates the class does not declare it:
    it deletes nothing and does not answer."""

    manifest_id: UUID
    older_than: AwareDatetime = Field(description="the range's end: the object's last event")
    data_class: str | None = Field(
        default=None, description="the retention class whose hot period ended, e.g. raw_deliveries"
    )
    topic: str | None = Field(default=None, description="the archived object's topic")
    not_before: AwareDatetime | None = Field(
        default=None, description="the range's start: the object's first event"
    )
    holds: list[PurgeHold] = Field(
        default_factory=list, description="legal holds in force that meet the range"
    )
    scope: Literal["tenant", "workspace"] | None = Field(
        default=None, description="a scope purge: every row of the tenant or of the workspace"
    )
    workspace_id: UUID | None = Field(default=None, description="the workspace a scope purge names")

    @model_validator(mode="after")
    def _a_workspace_purge_names_its_workspace(self) -> Self:
        """Refused, not read as the tenant's: an owner given no workspace would purge (and
        the gateway mark purged) the whole tenant."""
        if self.scope == "workspace" and self.workspace_id is None:
            raise ValueError("a workspace's scope purge must name its workspace_id")
        return self


@event_type("sextant.lifecycle.purge.done.v1", topic=LIFECYCLE)
class PurgeDone(EventModel):
    """An owner's answer to a ``PurgeRequested``: how many of its rows it deleted."""

    manifest_id: UUID
    service: str
    rows_deleted: int = Field(ge=0)
    data_class: str | None = Field(default=None, description="the request's data class")
    request_id: UUID | None = Field(default=None, description="the PurgeRequested event's id")
    scope: Literal["tenant", "workspace"] | None = Field(
        default=None, description="the scope purge this answers, if it is one"
    )


@event_type("sextant.lifecycle.restore.done.v1", topic=LIFECYCLE)
class RestoreDone(EventModel):
    manifest_id: UUID
    rows_restored: int = Field(ge=0)


@event_type("sextant.lifecycle.legal_hold.changed.v1", topic=LIFECYCLE)
class LegalHoldChanged(EventModel):
    hold_id: UUID
    active: bool
    reason: str
    by: str


# reports -------------------------------------------------------------------------------


@event_type("sextant.reports.requested.v1", topic=REPORTS)
class ReportRequested(EventModel):
    report_id: UUID
    definition: str
    format: Literal["pdf", "csv"]
    scope: str
    requested_by: str


@event_type("sextant.reports.rendered.v1", topic=REPORTS)
class ReportRendered(EventModel):
    report_id: UUID
    object_key: str
    format: Literal["pdf", "csv"]
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@event_type("sextant.reports.failed.v1", topic=REPORTS)
class ReportFailed(EventModel):
    report_id: UUID
    reason: str


# notifications -------------------------------------------------------------------------


@event_type("sextant.notifications.raised.v1", topic=NOTIFICATIONS)
class NotificationRaised(EventModel):
    notification_id: UUID
    severity: Literal["info", "warning", "error"]
    audience: list[Role] = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200)
    body: str
    link: str | None = None
    raised_by: str = Field(description="the service that raised it")


# config / audit ------------------------------------------------------------------------


@event_type("sextant.config.changed.v1", topic=CONFIG)
class ConfigChanged(EventModel):
    """A configuration change, as the audit log records it."""

    actor: str
    action: str = Field(description="e.g. workspace.create, api_key.revoke, identity.merge")
    target_type: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None

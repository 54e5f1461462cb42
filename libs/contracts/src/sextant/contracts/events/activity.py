"""Canonical, tool-neutral activity that ingest produces (topic ``sextant.activity``).

A GitHub pull request and a GitLab merge request are one change request; a Jira issue
and a GitHub issue are one work item. Every record keeps the source's own id and URL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from sextant.contracts.events.common import Actor, Repository, SourceRef, StatusCategory
from sextant.contracts.registry import EventModel, event_type
from sextant.contracts.topics import ACTIVITY

CommitsSource = Literal["listed", "pending", "head_only"]


class ChangeRequest(EventModel):
    """A pull request / merge request as it stands when the event happened."""

    source: SourceRef
    repository: Repository
    number: int = Field(ge=0)
    title: str
    author: Actor
    base_branch: str
    into_default_branch: bool | None = Field(
        default=None,
        description="the base branch is a default branch: the repository's own or one the"
        " source's mapping names; None when the tool did not say which is the default",
    )
    head_branch: str
    head_sha: str | None = None
    draft: bool = False
    labels: list[str] = Field(default_factory=list)
    created_at: AwareDatetime


@event_type("sextant.activity.change_request.opened.v1", topic=ACTIVITY)
class ChangeRequestOpened(EventModel):
    change_request: ChangeRequest
    occurred_at: AwareDatetime


@event_type("sextant.activity.change_request.updated.v1", topic=ACTIVITY)
class ChangeRequestUpdated(EventModel):
    """New commits, retitled, relabelled, marked ready: what changed is in ``changes``."""

    change_request: ChangeRequest
    changes: list[str] = Field(default_factory=list, description="names of changed fields")
    actor: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.change_request.review_submitted.v1", topic=ACTIVITY)
class ReviewSubmitted(EventModel):
    change_request: ChangeRequest
    review_id: str
    reviewer: Actor
    state: Literal["approved", "changes_requested", "commented"]
    occurred_at: AwareDatetime


@event_type("sextant.activity.change_request.merged.v1", topic=ACTIVITY)
class ChangeRequestMerged(EventModel):
    """Merged, with the merge SHA and every commit SHA so lead time survives squash merges."""

    change_request: ChangeRequest
    merge_sha: str
    commit_shas: list[str] = Field(default_factory=list)
    commits_source: CommitsSource | None = Field(
        default=None,
        description="what commit_shas is: listed (the tool's own list of the change"
        " request's commits, read through its API by a backfill or for a webhook); pending"
        " (a webhook's head SHA only, while the list is fetched: a revision of this event,"
        " same type and entity under a new id, brings it); head_only (the head SHA only, and"
        " no list follows: the source has no API credentials, or its API would not give the"
        " list). None in events from before this was said",
    )
    merged_by: Actor | None = None
    merged_at: AwareDatetime


@event_type("sextant.activity.change_request.closed.v1", topic=ACTIVITY)
class ChangeRequestClosed(EventModel):
    """Closed without merging."""

    change_request: ChangeRequest
    closed_by: Actor | None = None
    closed_at: AwareDatetime


class Commit(EventModel):
    sha: str
    title: str = Field(description="the first line of the message")
    author: Actor
    committer: Actor | None = None
    authored_at: AwareDatetime
    committed_at: AwareDatetime | None = None


@event_type("sextant.activity.commits.pushed.v1", topic=ACTIVITY)
class CommitsPushed(EventModel):
    source: SourceRef
    repository: Repository
    branch: str
    into_default_branch: bool | None = Field(
        default=None,
        description="the branch is a default branch: the repository's own or one the"
        " source's mapping names; None when the tool did not say which is the default",
    )
    before_sha: str | None = None
    after_sha: str
    forced: bool = False
    pusher: Actor | None = None
    commits: list[Commit] = Field(default_factory=list)
    occurred_at: AwareDatetime


class WorkItem(EventModel):
    """An issue, story, task or bug as it stands when the event happened."""

    source: SourceRef
    key: str = Field(description="e.g. PROJ-123 or octo-org/octo-repo#42")
    title: str
    item_type: str = Field(description="story, bug, task, incident, … as mapped per source")
    project: str | None = None
    status: str
    status_category: StatusCategory
    labels: list[str] = Field(default_factory=list)
    story_points: float | None = None
    parent_key: str | None = None
    sprint_ids: list[str] = Field(default_factory=list)
    assignee: Actor | None = None
    reporter: Actor | None = None
    created_at: AwareDatetime


@event_type("sextant.activity.work_item.created.v1", topic=ACTIVITY)
class WorkItemCreated(EventModel):
    work_item: WorkItem
    actor: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.work_item.transitioned.v1", topic=ACTIVITY)
class WorkItemTransitioned(EventModel):
    work_item: WorkItem
    from_status: str | None
    to_status: str
    from_category: StatusCategory | None = Field(
        description="the old status's category; null when the tool's payload does not show "
        "it (a Jira changelog names statuses, not their categories)"
    )
    to_category: StatusCategory
    actor: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.work_item.assigned.v1", topic=ACTIVITY)
class WorkItemAssigned(EventModel):
    work_item: WorkItem
    assignee: Actor | None = Field(description="None when unassigned")
    actor: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.work_item.resolved.v1", topic=ACTIVITY)
class WorkItemResolved(EventModel):
    work_item: WorkItem
    resolution: str | None = None
    actor: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.work_item.deleted.v1", topic=ACTIVITY)
class WorkItemDeleted(EventModel):
    source: SourceRef
    key: str
    actor: Actor | None = None
    occurred_at: AwareDatetime


class Sprint(EventModel):
    source: SourceRef
    name: str
    board: str | None = None
    goal: str | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


@event_type("sextant.activity.sprint.started.v1", topic=ACTIVITY)
class SprintStarted(EventModel):
    sprint: Sprint
    item_keys: list[str] = Field(default_factory=list)
    occurred_at: AwareDatetime


@event_type("sextant.activity.sprint.closed.v1", topic=ACTIVITY)
class SprintClosed(EventModel):
    sprint: Sprint
    completed_keys: list[str] = Field(default_factory=list)
    incomplete_keys: list[str] = Field(default_factory=list)
    occurred_at: AwareDatetime


@event_type("sextant.activity.sprint.scope_changed.v1", topic=ACTIVITY)
class SprintScopeChanged(EventModel):
    sprint: Sprint
    added_keys: list[str] = Field(default_factory=list)
    removed_keys: list[str] = Field(default_factory=list)
    occurred_at: AwareDatetime


@event_type("sextant.activity.build.finished.v1", topic=ACTIVITY)
class BuildFinished(EventModel):
    """A CI build or pipeline that reached a final state."""

    source: SourceRef
    repository: Repository | None = None
    name: str
    status: Literal["success", "failed", "cancelled"]
    sha: str | None = None
    branch: str | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime
    duration_seconds: float | None = Field(default=None, ge=0)
    triggered_by: Actor | None = None


@event_type("sextant.activity.deployment.status_changed.v1", topic=ACTIVITY)
class DeploymentStatusChanged(EventModel):
    """A deployment to an environment, with the SHA it ships and where it got to."""

    source: SourceRef
    repository: Repository | None = None
    environment: str
    is_production: bool
    sha: str
    status: Literal["in_progress", "success", "failure", "cancelled"]
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    deployed_by: Actor | None = None
    occurred_at: AwareDatetime


@event_type("sextant.activity.incident.opened.v1", topic=ACTIVITY)
class IncidentOpened(EventModel):
    source: SourceRef
    title: str
    severity: str | None = None
    service: str | None = None
    deployment_sha: str | None = Field(default=None, description="the deployment blamed, if known")
    opened_at: AwareDatetime


@event_type("sextant.activity.incident.resolved.v1", topic=ACTIVITY)
class IncidentResolved(EventModel):
    source: SourceRef
    title: str
    severity: str | None = None
    service: str | None = None
    opened_at: AwareDatetime
    resolved_at: AwareDatetime

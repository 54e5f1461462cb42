"""Replies of the read API: what was ingested, as insights projected it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sextant.runtime.openapi import extended_example

ChangeState = Literal["open", "merged", "closed"]
DeploymentStatus = Literal["in_progress", "success", "failure", "cancelled"]
BuildStatus = Literal["success", "failed", "cancelled"]
IncidentState = Literal["open", "resolved"]

EXAMPLE_ID = "0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60"
EXAMPLE_WORKSPACE = "0190f5c2-0000-7c3a-9d3e-1b2c3d4e5f60"
EXAMPLE_DEVELOPER = "0190f5c2-1111-7c3a-9d3e-1b2c3d4e5f60"


class ChangeRequestSummary(BaseModel):
    """A pull request or merge request and the moments a lead time is made of."""

    id: UUID = Field(description="Sextant's id of the change request")
    workspace_id: UUID
    repository: str = Field(description="e.g. octo-org/octo-repo")
    number: int
    title: str
    url: str | None = None
    state: ChangeState
    draft: bool
    author_developer_id: UUID | None = Field(
        description="the developer the author resolved to (a merged developer's survivor)"
    )
    author_is_bot: bool
    base_branch: str
    head_branch: str
    opened_at: datetime
    first_commit_at: datetime | None = Field(description="earliest authored commit of the change")
    first_review_at: datetime | None = Field(
        description="first review by someone other than the author, bots left out"
    )
    merged_at: datetime | None
    closed_at: datetime | None = Field(description="closed without merging")
    merge_sha: str | None = Field(description="the commit the merge left on the base branch")
    deployment_id: UUID | None = Field(
        description="the production deployment that shipped it (see the linkage rule)"
    )
    deployed_at: datetime | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "workspace_id": EXAMPLE_WORKSPACE,
                    "repository": "octo-org/octo-repo",
                    "number": 42,
                    "title": "Fix the login page",
                    "url": "https://github.com/octo-org/octo-repo/pull/42",
                    "state": "merged",
                    "draft": False,
                    "author_developer_id": EXAMPLE_DEVELOPER,
                    "author_is_bot": False,
                    "base_branch": "main",
                    "head_branch": "fix-login",
                    "opened_at": "2026-03-02T09:00:00Z",
                    "first_commit_at": "2026-03-01T16:20:00Z",
                    "first_review_at": "2026-03-02T11:05:00Z",
                    "merged_at": "2026-03-02T15:30:00Z",
                    "closed_at": None,
                    "merge_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "deployment_id": "0190f5c2-2222-7c3a-9d3e-1b2c3d4e5f60",
                    "deployed_at": "2026-03-02T17:00:00Z",
                }
            ]
        }
    )


class Review(BaseModel):
    review_id: str
    reviewer_developer_id: UUID | None
    reviewer_is_bot: bool
    state: Literal["approved", "changes_requested", "commented"]
    submitted_at: datetime


class CommitView(BaseModel):
    sha: str
    title: str
    author_developer_id: UUID | None
    author_is_bot: bool
    authored_at: datetime
    branch: str = Field(description="the branch it was first pushed to")


class DeploymentSummary(BaseModel):
    """A deployment of a repository to an environment, and where it got to."""

    id: UUID
    workspace_id: UUID
    repository: str | None
    environment: str
    is_production: bool = Field(description="production by the source's environment mapping")
    sha: str
    status: DeploymentStatus
    url: str | None = None
    started_at: datetime | None
    finished_at: datetime | None
    succeeded_at: datetime | None
    deployed_by_developer_id: UUID | None
    deployed_by_is_bot: bool
    changes_shipped: int = Field(description="change requests it shipped (inherited ones not)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f5c2-2222-7c3a-9d3e-1b2c3d4e5f60",
                    "workspace_id": EXAMPLE_WORKSPACE,
                    "repository": "octo-org/octo-repo",
                    "environment": "production",
                    "is_production": True,
                    "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "status": "success",
                    "url": None,
                    "started_at": "2026-03-02T16:50:00Z",
                    "finished_at": "2026-03-02T17:00:00Z",
                    "succeeded_at": "2026-03-02T17:00:00Z",
                    "deployed_by_developer_id": None,
                    "deployed_by_is_bot": False,
                    "changes_shipped": 3,
                }
            ]
        }
    )


class ShippedChange(BaseModel):
    id: UUID
    repository: str
    number: int
    title: str
    merged_at: datetime | None
    author_developer_id: UUID | None
    counted: bool = Field(
        description="false when the first deployment seen inherited it: shipped before"
        " Sextant saw a deployment, so no lead time is taken from it"
    )


class ChangeRequestDetail(ChangeRequestSummary):
    model_config = extended_example(
        ChangeRequestSummary,
        labels=["bug"],
        commit_shas=["9fceb02d0ae598e95dc970b74767f19372d61af8"],
        commits_source="listed",
        reviews=[
            {
                "review_id": "1901",
                "reviewer_developer_id": "0190f5c2-3333-7c3a-9d3e-1b2c3d4e5f60",
                "reviewer_is_bot": False,
                "state": "approved",
                "submitted_at": "2026-03-02T11:05:00Z",
            }
        ],
        commits=[
            {
                "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                "title": "Fix the login page",
                "author_developer_id": EXAMPLE_DEVELOPER,
                "author_is_bot": False,
                "authored_at": "2026-03-01T16:20:00Z",
                "branch": "fix-login",
            }
        ],
        deployment=None,
    )

    labels: list[str]
    commit_shas: list[str] = Field(description="the commits the tool listed at merge")
    commits_source: Literal["listed", "pending", "head_only"] | None = Field(
        default=None,
        description="what commit_shas is: listed (the tool's list of the change request's"
        " commits); pending (the merge's head SHA until ingest has read the list); head_only"
        " (the head SHA, and no list will come: the source has no API credentials, or its"
        " API would not give the list); null when not said (merged before this was told)",
    )
    reviews: list[Review]
    commits: list[CommitView] = Field(description="the commits pushed that belong to it")
    deployment: DeploymentSummary | None


class DeploymentDetail(DeploymentSummary):
    model_config = extended_example(
        DeploymentSummary,
        changes=[
            {
                "id": EXAMPLE_ID,
                "repository": "octo-org/octo-repo",
                "number": 42,
                "title": "Fix the login page",
                "merged_at": "2026-03-02T15:30:00Z",
                "author_developer_id": EXAMPLE_DEVELOPER,
                "counted": True,
            }
        ],
    )

    changes: list[ShippedChange] = Field(
        description="what lay between this deployment and the previous successful one of"
        " the same repository and environment"
    )


class IncidentSummary(BaseModel):
    id: UUID
    workspace_id: UUID
    title: str
    severity: str | None
    service: str | None
    url: str | None = None
    state: IncidentState
    opened_at: datetime
    resolved_at: datetime | None
    deployment_sha: str | None = Field(description="the deployed SHA the tool blamed, if any")
    caused_by_deployment_id: UUID | None = Field(
        description="the last successful production deployment of that SHA at or before the"
        " incident opened, when the tool blamed one"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f5c2-3333-7c3a-9d3e-1b2c3d4e5f60",
                    "workspace_id": EXAMPLE_WORKSPACE,
                    "title": "Checkout errors at 5 %",
                    "severity": "SEV2",
                    "service": "checkout",
                    "url": None,
                    "state": "resolved",
                    "opened_at": "2026-03-02T18:00:00Z",
                    "resolved_at": "2026-03-02T19:10:00Z",
                    "deployment_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "caused_by_deployment_id": "0190f5c2-2222-7c3a-9d3e-1b2c3d4e5f60",
                }
            ]
        }
    )


class BuildSummary(BaseModel):
    id: UUID
    workspace_id: UUID
    repository: str | None
    name: str
    status: BuildStatus
    sha: str | None
    branch: str | None
    url: str | None = None
    started_at: datetime | None
    finished_at: datetime
    duration_seconds: float | None
    triggered_by_developer_id: UUID | None
    triggered_by_is_bot: bool

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f5c2-4444-7c3a-9d3e-1b2c3d4e5f60",
                    "workspace_id": EXAMPLE_WORKSPACE,
                    "repository": "octo-org/octo-repo",
                    "name": "ci / test",
                    "status": "success",
                    "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "branch": "main",
                    "url": None,
                    "started_at": "2026-03-02T15:31:00Z",
                    "finished_at": "2026-03-02T15:39:00Z",
                    "duration_seconds": 480.0,
                    "triggered_by_developer_id": EXAMPLE_DEVELOPER,
                    "triggered_by_is_bot": False,
                }
            ]
        }
    )


class ChangeRequestPage(BaseModel):
    items: list[ChangeRequestSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class DeploymentPage(BaseModel):
    items: list[DeploymentSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class BuildPage(BaseModel):
    items: list[BuildSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")

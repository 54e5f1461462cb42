"""Request and reply bodies of ingest's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant.contracts.events.common import SourceKind
from sextant.ingest.mapping import MappingRules
from sextant.runtime.paging import Moment


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SourceKind
    name: str = Field(min_length=1, max_length=200)
    secret: str | None = Field(
        default=None,
        description="the webhook secret to use; generated when omitted (shown once either way)",
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="API credentials for backfill (GitHub token or App, GitLab token, Jira "
        "OAuth2 or API token); stored encrypted, never returned",
    )
    mapping: MappingRules = Field(default_factory=MappingRules)


class SourceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    mapping: MappingRules | None = None
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="replace the API credentials (stored encrypted, never shown); {} removes them",
    )
    disabled: bool | None = Field(default=None, description="a disabled source answers 410")


class SourceReply(BaseModel):
    id: UUID
    workspace_id: UUID
    kind: SourceKind
    name: str
    webhook_url: str
    mapping: MappingRules
    has_credentials: bool
    disabled: bool
    suspended: bool = Field(description="its workspace or tenant is soft-deleted")
    signature_failures: int
    created_at: datetime


class CreatedSourceReply(SourceReply):
    secret: str = Field(description="shown only in this reply: configure it in the tool")


class SourceList(BaseModel):
    items: list[SourceReply]


class DeliveryReceipt(BaseModel):
    delivery_id: str = Field(description="the tool's delivery id, or a hash of the body")
    duplicate: bool = Field(description="true when this delivery id was already stored")
    outcome: str = Field(description="normalized, ignored, failed or duplicate")
    events: int = Field(description="canonical events staged for this delivery")
    reason: str | None = Field(default=None, description="why it was ignored or failed")


class DeliveryReply(BaseModel):
    id: UUID
    delivery_id: str
    event: str | None
    received_at: datetime
    outcome: str
    reason: str | None
    event_count: int


class DeliveryList(BaseModel):
    items: list[DeliveryReply]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: Moment = Field(alias="from", description="deliveries received at or after")
    until: Moment = Field(alias="to", description="deliveries received before")
    after: UUID | None = Field(
        default=None, description="resume after this delivery (a previous reply's resume_after)"
    )
    # One call is one transaction on the loop that also accepts webhooks: bounded, and
    # paged with ``after`` beyond that.
    limit: int = Field(default=1_000, ge=1, le=5_000, description="deliveries in this call")

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.until <= self.since:
            raise ValueError("'to' must be after 'from'")
        return self


class ReplayReply(BaseModel):
    deliveries: int = Field(description="deliveries re-normalized in this call")
    outcomes: dict[str, int] = Field(description="how many became normalized, ignored, failed")
    events: int = Field(description="events published: new facts, and revised ones")
    revised: int = Field(
        description="deliveries whose facts now say something else (a mapping fix): their "
        "facts are published again under new ids, as revisions that replace what they said"
    )
    unchanged: int = Field(
        description="deliveries whose facts say what they said: nothing is published again"
    )
    complete: bool = Field(description="false when the range holds more: call again with after")
    resume_after: UUID | None = None


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment = Field(description="fetch what changed from this time on")


class BackfillResource(BaseModel):
    pages: int
    items: int
    events: int
    done: bool


class BackfillReply(BaseModel):
    id: UUID
    status: str = Field(description="running, succeeded or failed (start again to resume)")
    since: datetime
    resources: dict[str, BackfillResource]
    error: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class SourceSuspension(BaseModel):
    """The gateway's word that a tenant (no workspace) or one workspace was soft-deleted
    (``suspended``) or restored."""

    model_config = ConfigDict(extra="forbid")

    workspace_id: UUID | None = Field(default=None, description="none: the whole tenant")
    suspended: bool


class SuspensionReply(BaseModel):
    sources: int = Field(description="how many of the tenant's sources it changed")


class JiraOAuthStarted(BaseModel):
    authorize_url: str = Field(
        description="Atlassian's consent page with this connection's state and PKCE "
        "challenge: send the admin's browser there",
        examples=["https://auth.atlassian.com/authorize?audience=api.atlassian.com&..."],
    )
    state_expires_at: datetime = Field(
        description="consent must come back to the callback before this; else start again"
    )


class JiraOAuthStatus(BaseModel):
    status: str = Field(
        description="connected, or needs_reconnect once Atlassian refused a refresh "
        "(access revoked): start the connection again"
    )
    site_url: str = Field(description="the Jira site the grant reads")
    cloud_id: str = Field(description="Atlassian's id of that site")
    scopes: str = Field(description="the scopes granted, space-separated")
    expires_at: datetime = Field(description="when the current access token expires")
    connected_by: str = Field(description="the admin who gave consent")
    connected_at: datetime
    refreshed_at: datetime | None = Field(description="the last refresh, if any")
    error: str | None = Field(description="why it needs reconnecting")


class JiraOAuthConnected(BaseModel):
    connected: bool = Field(description="true: the tokens are stored, sealed")
    source_id: UUID
    site_url: str = Field(description="the Jira site the grant reads")
    cloud_id: str
    expires_at: datetime = Field(description="when the access token expires (it is refreshed)")

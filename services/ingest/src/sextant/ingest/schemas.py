"""Request and reply bodies of ingest's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from sextant.contracts.events.common import SourceKind
from sextant.ingest.mapping import MappingRules
from sextant.runtime.paging import Moment

# The source the examples below share, so they read as one story.
SOURCE: JsonDict = {
    "id": "1f2e3d4c-5b6a-4789-8a0b-1c2d3e4f5a6b",
    "workspace_id": "0b8e2f6a-1c4d-4e7f-9a2b-3c5d7e9f1a2b",
    "kind": "github",
    "name": "acme/web",
    "webhook_url": "http://127.0.0.1:8080/v1/hooks/1f2e3d4c-5b6a-4789-8a0b-1c2d3e4f5a6b",
    "mapping": {"production_environments": ["production"], "bot_patterns": ["dependabot*"]},
    "has_credentials": True,
    "disabled": False,
    "suspended": False,
    "signature_failures": 0,
    "created_at": "2026-12-01T09:30:00Z",
}


class SourceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "github", "name": "acme/web", "credentials": {"token": "ghp_..."}}
            ]
        },
    )

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"mapping": {"production_environments": ["production", "prod-eu"]}}]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    mapping: MappingRules | None = None
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="replace the API credentials (stored encrypted, never shown); {} removes them",
    )
    disabled: bool | None = Field(default=None, description="a disabled source answers 410")


class SourceReply(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SOURCE]})

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**SOURCE, "secret": "whsec_5b1e..."}]}
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "018f2b00-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                    "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                    "event": "pull_request",
                    "received_at": "2026-12-01T09:31:02Z",
                    "outcome": "normalized",
                    "reason": None,
                    "event_count": 2,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}]
        },
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "deliveries": 120,
                    "outcomes": {"normalized": 112, "ignored": 8},
                    "events": 14,
                    "revised": 7,
                    "unchanged": 113,
                    "complete": True,
                    "resume_after": None,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"since": "2026-06-01T00:00:00Z"}]}
    )

    since: Moment = Field(description="fetch what changed from this time on")


class BackfillResource(BaseModel):
    pages: int
    items: int
    events: int
    done: bool


class BackfillReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "018f2b10-2b3c-7d4e-8f5a-6b7c8d9e0f1a",
                    "status": "running",
                    "since": "2026-06-01T00:00:00Z",
                    "resources": {
                        "pulls": {"pages": 4, "items": 380, "events": 1140, "done": False}
                    },
                    "error": None,
                    "started_at": "2026-12-01T09:40:00Z",
                    "updated_at": "2026-12-01T09:41:10Z",
                    "finished_at": None,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "authorize_url": "https://auth.atlassian.com/authorize?audience=api.atlassian"
                    ".com&client_id=abc&scope=read%3Ajira-work%20offline_access&redirect_uri="
                    "https%3A%2F%2Fsextant.example.com%2Fv1%2Foauth%2Fjira%2Fcallback&state=Zx9"
                    "&response_type=code&prompt=consent&code_challenge=E9Mel&code_challenge_"
                    "method=S256",
                    "state_expires_at": "2026-12-06T14:10:00Z",
                }
            ]
        }
    )

    authorize_url: str = Field(
        description="Atlassian's consent page with this connection's state and PKCE "
        "challenge: send the admin's browser there",
        examples=["https://auth.atlassian.com/authorize?audience=api.atlassian.com&..."],
    )
    state_expires_at: datetime = Field(
        description="consent must come back to the callback before this; else start again"
    )


class JiraOAuthStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "connected",
                    "site_url": "https://acme.atlassian.net",
                    "cloud_id": "11223344-a1b2-3b33-c444-def123456789",
                    "scopes": "read:jira-work offline_access",
                    "expires_at": "2026-12-06T15:00:00Z",
                    "connected_by": "admin@acme",
                    "connected_at": "2026-12-06T13:00:00Z",
                    "refreshed_at": None,
                    "error": None,
                }
            ]
        }
    )

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

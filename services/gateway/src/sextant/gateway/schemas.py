"""The gateway's request and reply bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

KeyRole = Literal["tenant_admin", "manager", "member", "partner"]

# The ids and times the examples below share, so they read as one story.
TENANT = "7d4f6b1e-2c3a-4e5f-8a9b-0c1d2e3f4a5b"
WORKSPACE = "0b8e2f6a-1c4d-4e7f-9a2b-3c5d7e9f1a2b"
WORKSPACE_2 = "5e1a9c3d-7b2f-4a6e-8d0c-2f4a6b8c0d1e"
VIEW = "c3a1e5f7-9b2d-4f6a-8c0e-1a3b5c7d9e2f"
API_KEY = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
NOTIFICATION = "4a6c8e0f-2b4d-4f68-9a1c-3e5b7d9f0a2c"
AT = "2026-12-01T09:30:00Z"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameBody(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Acme"}]})

    name: str = Field(min_length=1, max_length=200)


class TenantReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": TENANT, "name": "Acme", "created_at": AT}]}
    )

    id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    restorable_until: datetime | None = None


class WorkspaceReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": WORKSPACE, "tenant_id": TENANT, "name": "web", "created_at": AT}]
        }
    )

    id: UUID
    tenant_id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    restorable_until: datetime | None = None


class ViewCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "product", "workspace_ids": [WORKSPACE, WORKSPACE_2]}]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    workspace_ids: list[UUID] = Field(min_length=1, max_length=500)


class ViewChange(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"workspace_ids": [WORKSPACE]}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    workspace_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=500)


class ViewReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": VIEW,
                    "tenant_id": TENANT,
                    "name": "product",
                    "workspace_ids": [WORKSPACE, WORKSPACE_2],
                    "created_at": AT,
                }
            ]
        }
    )

    id: UUID
    tenant_id: UUID
    name: str
    workspace_ids: list[UUID]
    created_at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class ApiKeyCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ci", "role": "member", "expires_in_days": 90}]}
    )

    name: str = Field(min_length=1, max_length=200)
    role: KeyRole
    expires_in_days: int | None = Field(default=90, ge=1, le=730, description="null: never")


class ApiKeyReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": API_KEY,
                    "prefix": "sxk_3f9a",
                    "name": "ci",
                    "role": "member",
                    "created_by": "ada@acme.example",
                    "created_at": AT,
                    "expires_at": "2027-03-01T09:30:00Z",
                    "revoked_at": None,
                }
            ]
        }
    )

    id: UUID
    prefix: str = Field(description="the key's visible start, to tell keys apart")
    name: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedApiKeyReply(ApiKeyReply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": API_KEY,
                    "prefix": "sxk_3f9a",
                    "name": "ci",
                    "role": "member",
                    "created_by": "ada@acme.example",
                    "created_at": AT,
                    "expires_at": "2027-03-01T09:30:00Z",
                    "revoked_at": None,
                    "key": "sxk_3f9a...",
                }
            ]
        }
    )

    key: str = Field(description="the whole key: shown once, never again")


class AuditRecord(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 42,
                    "at": AT,
                    "service": "gateway",
                    "actor": "ada@acme.example",
                    "action": "workspace.created",
                    "target_type": "workspace",
                    "target_id": WORKSPACE,
                    "before": None,
                    "after": {"name": "web"},
                    "request_id": "req-5f2a",
                    "hash": "9c1d...e07b",
                }
            ]
        }
    )

    seq: int
    at: datetime
    service: str
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    hash: str


class AuditVerifyReply(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"intact": True, "rows": 42}]})

    intact: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None
    verified_from: int | None = Field(
        default=None,
        description="the checkpoint the check started from: the seq of the last purged record "
        "(none while nothing was purged)",
    )
    purged: int = Field(default=0, description="records purged so far (their copy archived)")


class NotificationReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": NOTIFICATION,
                    "seq": 7,
                    "severity": "warning",
                    "title": "Source suspended",
                    "body": "acme/web stopped after 20 bad signatures",
                    "link": "/v1/sources/1f2e3d4c-5b6a-4789-8a0b-1c2d3e4f5a6b",
                    "raised_by": "ingest",
                    "created_at": AT,
                    "read": False,
                }
            ]
        }
    )

    id: UUID
    seq: int = Field(description="the cursor: reconnect the stream with ?after=<seq>")
    severity: str
    title: str
    body: str
    link: str | None
    raised_by: str
    created_at: datetime
    read: bool


class MarkRead(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ids": [NOTIFICATION]}]})

    ids: list[UUID] | None = Field(default=None, description="null: every visible one")


class MarkedRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"marked": 1}]})

    marked: int


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "ada@acme.example",
                    "role": "tenant_admin",
                    "tenant_id": TENANT,
                    "via": "jwt",
                }
            ]
        }
    )

    subject: str
    role: str
    tenant_id: UUID | None
    via: str


class SessionReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "platform-admin@local",
                    "role": "platform_admin",
                    "tenant_id": None,
                    "expires_at": AT,
                    "csrf_token": "q2Vd0m6cJ0x1Qm9yZ1l1b2Jm3tB8h1r5c7x9z0a2b4c",
                }
            ]
        }
    )

    subject: str
    role: str
    tenant_id: UUID | None
    expires_at: datetime
    csrf_token: str = Field(description="send it as X-CSRF-Token on every write")


# partner subscriptions ---------------------------------------------------------------

SUBSCRIPTION = "6b2d4f80-1a3c-4e5f-9b7d-8c0e2a4f6b1d"
DELIVERY = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
EVENT = "0193a1b2-c3d4-7e5f-8a9b-aabbccddeeff"


class SubscriptionCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://webhooks.partner.invalid/sextant",
                    "description": "deployment evidence",
                    "event_types": ["sextant.gates.evaluated.v1", "sextant.gates.overridden.v1"],
                }
            ]
        }
    )

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="where deliveries are POSTed: https, to a public address (plain http "
        "and private hosts only where the operator's egress allow-list opens them)",
    )
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(
        min_length=1,
        max_length=100,
        description="registered event types (see /v1/events/asyncapi.json), e.g. "
        "sextant.gates.evaluated.v1",
    )


SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": SUBSCRIPTION,
    "url": "https://webhooks.partner.invalid/sextant",
    "description": "deployment evidence",
    "event_types": ["sextant.gates.evaluated.v1"],
    "status": "active",
    "consecutive_failures": 0,
    "created_by": "admin@acme",
    "created_at": AT,
}


class SubscriptionReply(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

    id: UUID
    url: str
    description: str
    event_types: list[str]
    status: Literal["active", "disabled"]
    consecutive_failures: int = Field(description="failed attempts in a row; 0 after a success")
    disabled_reason: str | None = None
    created_by: str
    created_at: datetime


class CreatedSubscriptionReply(SubscriptionReply):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**SUBSCRIPTION_EXAMPLE, "secret": "whsec_" + "A" * 43 + "="}  # 32 zero bytes
            ]
        }
    )

    secret: str = Field(
        description="whsec_…: the Standard Webhooks signing secret, in this reply only"
    )


class SubscriptionDeliveryReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": DELIVERY,
                    "subscription_id": SUBSCRIPTION,
                    "event_id": EVENT,
                    "event_type": "sextant.gates.evaluated.v1",
                    "status": "delivered",
                    "attempts": 2,
                    "last_status_code": 204,
                    "created_at": AT,
                    "finished_at": AT,
                }
            ]
        }
    )

    id: UUID
    subscription_id: UUID
    event_id: UUID = Field(description="the webhook-id header: the same on every retry")
    event_type: str
    status: Literal["pending", "delivered", "failed", "abandoned"] = Field(
        description="abandoned: the subscription was disabled or deleted first"
    )
    attempts: int
    last_status_code: int | None = Field(default=None, description="the receiver's last answer")
    last_error: str | None = Field(default=None, description="why the last attempt failed")
    next_attempt_at: datetime | None = None
    created_at: datetime
    finished_at: datetime | None = None


class SignInProvider(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "okta",
                    "display_name": "Okta",
                    "login_url": "/v1/auth/oidc/okta/login",
                }
            ]
        }
    )

    name: str = Field(description="the provider's name in its sign-in URLs")
    display_name: str = Field(description='what the sign-in button says: "Sign in with …"')
    login_url: str = Field(description="where the browser goes to sign in with it (a 302 on)")

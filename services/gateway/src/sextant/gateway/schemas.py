"""The gateway's request and reply bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

KeyRole = Literal["tenant_admin", "manager", "member", "partner"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameBody(Body):
    name: str = Field(min_length=1, max_length=200)


class TenantReply(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    restorable_until: datetime | None = None


class WorkspaceReply(BaseModel):
    id: UUID
    tenant_id: UUID
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    restorable_until: datetime | None = None


class ViewCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    workspace_ids: list[UUID] = Field(min_length=1, max_length=500)


class ViewChange(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    workspace_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=500)


class ViewReply(BaseModel):
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
    name: str = Field(min_length=1, max_length=200)
    role: KeyRole
    expires_in_days: int | None = Field(default=90, ge=1, le=730, description="null: never")


class ApiKeyReply(BaseModel):
    id: UUID
    prefix: str = Field(description="the key's visible start, to tell keys apart")
    name: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedApiKeyReply(ApiKeyReply):
    key: str = Field(description="the whole key: shown once, never again")


class AuditRecord(BaseModel):
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
    intact: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None


class NotificationReply(BaseModel):
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
    ids: list[UUID] | None = Field(default=None, description="null: every visible one")


class MarkedRead(BaseModel):
    marked: int


class Me(BaseModel):
    subject: str
    role: str
    tenant_id: UUID | None
    via: str

"""Request and reply bodies of identity's routes."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class DeveloperSummary(BaseModel):
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    aliases: int


class DeveloperList(BaseModel):
    items: list[DeveloperSummary]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class Evidence(BaseModel):
    key: str = Field(description="what this alias is known by, e.g. email:ada@example.com")
    rule: str
    score: float


class AliasView(BaseModel):
    id: UUID
    kind: str
    account_id: str | None
    login: str | None
    email: str | None
    display_name: str | None
    is_bot: bool
    evidence: list[Evidence]


class DeveloperDetail(BaseModel):
    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    aliases: list[AliasView]


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: UUID = Field(description="the developer that keeps its id")
    merged_ids: list[UUID] = Field(
        min_length=1, max_length=100, description="developers merged into the survivor"
    )


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias_ids: list[UUID] = Field(
        min_length=1,
        max_length=1000,
        description="aliases that become another developer: the one merged in with exactly "
        "these aliases when there was such a merge (restored, same id), else a new one",
    )


class SplitReply(BaseModel):
    developer: DeveloperDetail
    new_developer: DeveloperDetail
    restored: bool = Field(description="true when the split undid a merge (same id as before)")


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_developer_id: UUID


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locked: bool = Field(description="a locked developer is never changed by automatic matching")


class SuggestionView(BaseModel):
    id: UUID
    developer_ids: list[UUID] = Field(description="the two developers, as they are now")
    rule: str
    score: float
    evidence: list[str]
    status: str = Field(description="pending, confirmed or rejected")
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class SuggestionList(BaseModel):
    items: list[SuggestionView]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class TeamView(BaseModel):
    id: UUID
    name: str
    created_at: datetime
    deleted: bool


class TeamList(BaseModel):
    items: list[TeamView]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    developer_id: UUID
    starts_on: date
    ends_on: date | None = Field(default=None, description="last day, inclusive; none: ongoing")


class MembershipView(BaseModel):
    id: UUID
    team_id: UUID
    developer_id: UUID = Field(description="the developer as it is now (merges followed)")
    display_name: str | None
    starts_on: date
    ends_on: date | None


class MembershipList(BaseModel):
    items: list[MembershipView]

"""Request and reply bodies of identity's routes."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

# The ids and aliases the examples below share, so they read as one story.
ADA = "018f2a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b"
ADA_2 = "018f2a3b-4c5d-7e6f-8a9b-0c1d2e3f4a6c"
ALIAS = "018f2a3b-5d6e-7f80-9a1b-2c3d4e5f6a7b"
TEAM = "018f2a3c-1a2b-7c3d-8e4f-5a6b7c8d9e0f"
AT = "2026-12-01T09:30:00Z"
ALIAS_VIEW: JsonDict = {
    "id": ALIAS,
    "kind": "github",
    "account_id": "583231",
    "login": "ada",
    "email": "ada@acme.example",
    "display_name": "Ada Lovelace",
    "is_bot": False,
    "evidence": [{"key": "email:ada@acme.example", "rule": "same_email", "score": 1.0}],
    "placed_by": "same GitHub login",
    "placed_score": 1.0,
}
MERGE_VIEW: JsonDict = {
    "id": "018f2a3d-0b1c-7d2e-8f3a-4b5c6d7e8f9b",
    "survivor_id": ADA,
    "merged_id": ADA_2,
    "alias_ids": [ALIAS],
    "rule": "same full name (0.004 others expected to carry the name among 120; same handle ada)",
    "score": 0.87,
    "actor": None,
    "merged_at": AT,
}
DEVELOPER: JsonDict = {
    "id": ADA,
    "display_name": "Ada Lovelace",
    "is_bot": False,
    "locked": False,
    "aliases": [ALIAS_VIEW],
    "merges": [MERGE_VIEW],
    "merges_next_cursor": None,
}


class DeveloperSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": ADA,
                    "display_name": "Ada Lovelace",
                    "is_bot": False,
                    "locked": False,
                    "aliases": 3,
                }
            ]
        }
    )

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
    model_config = ConfigDict(json_schema_extra={"examples": [ALIAS_VIEW]})

    id: UUID
    kind: str
    account_id: str | None
    login: str | None
    email: str | None
    display_name: str | None
    is_bot: bool
    evidence: list[Evidence]
    placed_by: str | None = Field(
        default=None,
        description="the link (rule and the evidence it was scored on) that joined this alias "
        "to its developer, or who moved it; null when it started the developer",
    )
    placed_score: float | None = Field(default=None, description="the score of that link")


class MergeView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MERGE_VIEW]})

    id: UUID = Field(description="the merge's id")
    survivor_id: UUID = Field(
        description="the developer merged into (this one or one merged into it)"
    )
    merged_id: UUID
    alias_ids: list[UUID] = Field(description="the aliases the merged developer brought")
    rule: str = Field(
        description="the link that merged them, with its evidence; 'manual' for a person's merge"
    )
    score: float | None
    actor: str | None = Field(description="who merged them; null when automatic")
    merged_at: datetime


class DeveloperDetail(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DEVELOPER]})

    id: UUID
    display_name: str | None
    is_bot: bool
    locked: bool
    aliases: list[AliasView]
    merges: list[MergeView] = Field(
        default_factory=list,
        description="the merges that brought this developer's aliases together, oldest "
        "first: the first 20; the rest from GET /v1/developers/{id}/merges",
    )
    merges_next_cursor: str | None = Field(
        default=None,
        description="more merges than shown: pass as ?cursor= to GET "
        "/v1/developers/{id}/merges for the next page; null when all are shown",
    )


class MergeList(BaseModel):
    items: list[MergeView]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class MergeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"survivor_id": ADA, "merged_ids": [ADA_2]}]},
    )

    survivor_id: UUID = Field(description="the developer that keeps its id")
    merged_ids: list[UUID] = Field(
        min_length=1, max_length=100, description="developers merged into the survivor"
    )


class SplitRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"alias_ids": [ALIAS]}]}
    )

    alias_ids: list[UUID] = Field(
        min_length=1,
        max_length=1000,
        description="aliases that become another developer: the one merged in with exactly "
        "these aliases when there was such a merge (restored, same id), else a new one",
    )


class SplitReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "developer": DEVELOPER,
                    "new_developer": {**DEVELOPER, "id": ADA_2},
                    "restored": True,
                }
            ]
        }
    )

    developer: DeveloperDetail
    new_developer: DeveloperDetail
    restored: bool = Field(description="true when the split undid a merge (same id as before)")


class MoveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"to_developer_id": ADA}]}
    )

    to_developer_id: UUID


class LockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"locked": True}]})

    locked: bool = Field(description="a locked developer is never changed by automatic matching")


class UserLink(BaseModel):
    """Which user (the gateway's token subject) a developer is; null for none."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"user_id": "ada@example.org"}]}
    )

    user_id: str | None = Field(
        min_length=1,
        max_length=320,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the user's subject as the gateway's tokens carry it (no control "
        "characters); null unlinks",
    )


class UserLinkView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"developer_id": ADA, "user_id": "ada@example.org", "previous_user_id": None}
            ]
        }
    )

    developer_id: UUID
    user_id: str | None = Field(description="the user linked now; null for none")
    previous_user_id: str | None = Field(description="the user linked before this change")


class SuggestionView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "018f2a3d-0b1c-7d2e-8f3a-4b5c6d7e8f9a",
                    "developer_ids": [ADA, ADA_2],
                    "rule": "similar_name",
                    "score": 0.72,
                    "evidence": ["name:ada lovelace"],
                    "status": "pending",
                    "created_at": AT,
                    "decided_at": None,
                    "decided_by": None,
                }
            ]
        }
    )

    id: UUID
    kind: str = Field(
        default="merge",
        description="merge: merge the two developers; split: move alias_ids out of the "
        "developer (named twice in developer_ids), after an address that merged them was "
        "found shared",
    )
    developer_ids: list[UUID] = Field(description="the two developers, as they are now")
    alias_ids: list[UUID] = Field(
        default_factory=list, description="a split's aliases to move out; empty for a merge"
    )
    rule: str
    score: float
    evidence: list[str]
    status: str = Field(description="pending, confirmed or rejected")
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class RevisitReply(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rescored": 3, "suggested": 1}]})

    rescored: int = Field(description="pending merge suggestions given today's score")
    suggested: int = Field(description="new suggestions to split an alias a name link placed")


class SuggestionList(BaseModel):
    items: list[SuggestionView]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; absent on the last"
    )


class TeamCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "payments"}]}
    )

    name: str = Field(min_length=1, max_length=200)


class TeamView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": TEAM, "name": "payments", "created_at": AT, "deleted": False}]
        }
    )

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"developer_id": ADA, "starts_on": "2026-01-05", "ends_on": None}]
        },
    )

    developer_id: UUID
    starts_on: date
    ends_on: date | None = Field(default=None, description="last day, inclusive; none: ongoing")


class MembershipView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "018f2a3e-2c3d-7e4f-8a5b-6c7d8e9f0a1b",
                    "team_id": TEAM,
                    "developer_id": ADA,
                    "display_name": "Ada Lovelace",
                    "starts_on": "2026-01-05",
                    "ends_on": None,
                }
            ]
        }
    )

    id: UUID
    team_id: UUID
    developer_id: UUID = Field(description="the developer as it is now (merges followed)")
    display_name: str | None
    starts_on: date
    ends_on: date | None


class MembershipList(BaseModel):
    items: list[MembershipView]

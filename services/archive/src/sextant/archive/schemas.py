"""Archive's request and reply models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from sextant.archive.domain.retention import DATA_CLASSES, MAX_COLD_DAYS, MAX_HOT_DAYS, DataClass
from sextant.runtime.paging import Moment

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # a control character names nothing worth keeping


class Manifest(BaseModel):
    """One object of the cold store, as its manifest entry records it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f1c4-7a00-7000-8000-000000000001",
                    "seq": 1,
                    "topic": "sextant.activity",
                    "day": "2026-03-01",
                    "part": 1,
                    "object_key": "tenant=0190f1c4-0000-7000-8000-000000000001/topic=sextant.activity/day=2026-03-01/part-00001.parquet",
                    "event_count": 50000,
                    "first_event_id": "0190f1c4-0000-7000-8000-0000000000a1",
                    "last_event_id": "0190f1c4-0000-7000-8000-0000000000f9",
                    "first_at": "2026-03-01T00:00:02Z",
                    "last_at": "2026-03-01T17:43:10Z",
                    "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                    "size_bytes": 1240512,
                    "schema_versions": ["sextant.activity.work_item.created.v1"],
                    "workspace_ids": ["0190f1c4-0000-7000-8000-0000000000aa"],
                    "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000",
                    "row_hash": "5b1c6a3f0e2d4c7b8a9f1e0d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3",
                    "created_at": "2026-03-01T17:48:10Z",
                }
            ]
        }
    )

    id: UUID
    seq: int = Field(description="its position in the tenant's manifest chain, from 1")
    topic: str
    day: date = Field(description="the UTC day its events happened on")
    part: int = Field(description="the part number within its (topic, day)")
    object_key: str = Field(
        description="where it is in the object store: tenant=…/topic=…/day=…/part-NNNNN.parquet"
    )
    event_count: int
    first_event_id: UUID
    last_event_id: UUID
    first_at: datetime = Field(description="the time of its first event")
    last_at: datetime = Field(description="the time of its last event")
    sha256: str = Field(description="hex SHA-256 of the object's bytes")
    size_bytes: int
    schema_versions: list[str] = Field(description="the versioned event types it holds")
    workspace_ids: list[UUID] = Field(description="the workspaces its events belong to")
    prev_hash: str = Field(description="the hash of the entry before it (64 zeros for the first)")
    row_hash: str = Field(description="SHA-256 over this entry and prev_hash")
    created_at: datetime
    deleted_at: datetime | None = Field(
        default=None,
        description="when its object was deleted at the end of its cold period (the entry "
        "stays, a tombstone, so the chain still verifies); null while it is stored",
    )


class ManifestPage(BaseModel):
    items: list[Manifest]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class VerificationFinding(BaseModel):
    seq: int = Field(description="the manifest entry it concerns")
    object_key: str = Field(description="the object it concerns (empty: a missing entry)")
    reason: str


class VerificationReport(BaseModel):
    """The cold store re-read: every object against its entry, and the chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "intact": False,
                    "objects": 3,
                    "events": 120000,
                    "first_bad_object": "tenant=0190f1c4-0000-7000-8000-000000000001/topic=sextant.activity/day=2026-03-01/part-00001.parquet",
                    "findings": [
                        {
                            "seq": 1,
                            "object_key": "tenant=0190f1c4-0000-7000-8000-000000000001/topic=sextant.activity/day=2026-03-01/part-00001.parquet",
                            "reason": "the object is missing from the store",
                        }
                    ],
                }
            ]
        }
    )

    intact: bool = Field(description="true when nothing was found wrong")
    objects: int = Field(description="objects re-read")
    events: int = Field(description="events their entries count")
    tombstones: int = Field(
        default=0, description="entries whose object was deleted at the end of its cold period"
    )
    first_bad_object: str | None = Field(
        description="the object of the earliest finding; null when intact"
    )
    findings: list[VerificationFinding]


# retention policies ---------------------------------------------------------------------

HotDays = Annotated[
    int,
    Field(ge=1, le=MAX_HOT_DAYS, description="days the rows stay in PostgreSQL, from the event"),
]
ColdDays = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_COLD_DAYS,
        description="days the archived copy is kept in the object store, from the event; "
        "at least hot_days",
    ),
]


class RetentionPolicy(BaseModel):
    """How long one class of the tenant's data is kept, hot and cold."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data_class": "activity_events",
                    "hot_days": 90,
                    "cold_days": 730,
                    "is_default": True,
                    "updated_at": None,
                    "updated_by": None,
                }
            ]
        }
    )

    data_class: DataClass
    hot_days: HotDays
    cold_days: ColdDays
    is_default: bool = Field(description="true while the tenant has not chosen its own")
    updated_at: datetime | None = Field(description="when the tenant last changed it")
    updated_by: str | None = Field(description="who last changed it")


class RetentionPolicies(BaseModel):
    items: list[RetentionPolicy] = Field(description="every data class, in a fixed order")


class RetentionChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_class: DataClass
    hot_days: HotDays
    cold_days: ColdDays

    @field_validator("cold_days")
    @classmethod
    def _cold_outlasts_hot(cls, value: int, info: ValidationInfo) -> int:
        hot = info.data.get("hot_days")
        if hot is not None and value < hot:
            raise ValueError(
                f"must be at least hot_days ({hot}): the cold copy is the only one once the "
                "hot period ends"
            )
        return value


class RetentionUpdate(BaseModel):
    """The classes to change; the others keep what they have."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"policies": [{"data_class": "activity_events", "hot_days": 30, "cold_days": 3650}]}
            ]
        },
    )

    policies: list[RetentionChoice] = Field(min_length=1, max_length=len(DATA_CLASSES))

    @field_validator("policies")
    @classmethod
    def _each_class_once(cls, value: list[RetentionChoice]) -> list[RetentionChoice]:
        classes = [p.data_class for p in value]
        if len(set(classes)) != len(classes):
            raise ValueError("names a data class more than once")
        return value


# legal holds ------------------------------------------------------------------------------

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
HOLD_SCOPE = rf"^(tenant|workspace:{_UUID}|developer:{_UUID})$"


class LegalHoldRequest(BaseModel):
    """A hold stops every purge, hot or cold, of the data it covers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "scope": "workspace:0190f1c4-0000-7000-8000-0000000000aa",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "ends_at": None,
                    "reason": "litigation 2026-17",
                }
            ]
        },
    )

    scope: str = Field(
        pattern=HOLD_SCOPE,
        description="tenant (all of it), workspace:<id> or developer:<id>",
        examples=["workspace:0190f1c4-0000-7000-8000-0000000000aa"],
    )
    starts_at: Moment | None = Field(
        default=None, description="covers events at or after this moment; none: from the start"
    )
    ends_at: Moment | None = Field(
        default=None, description="covers events before this moment; none: with no end"
    )
    reason: str = Field(
        min_length=1, max_length=500, pattern=PRINTABLE, description="why, for the record"
    )

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("starts_at")
        if value is not None and start is not None and value <= start:
            raise ValueError("must be after starts_at")
        return value


class LegalHoldRelease(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "settled"}]}
    )

    reason: str | None = Field(default=None, max_length=500, pattern=PRINTABLE)


class LegalHold(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f1c4-7b00-7000-8000-000000000001",
                    "scope": "workspace:0190f1c4-0000-7000-8000-0000000000aa",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "ends_at": None,
                    "reason": "litigation 2026-17",
                    "active": True,
                    "created_at": "2026-03-05T09:00:00Z",
                    "created_by": "alice@example.com",
                    "released_at": None,
                    "released_by": None,
                    "release_reason": None,
                }
            ]
        }
    )
    id: UUID
    scope: str = Field(description="tenant, workspace:<id> or developer:<id>")
    starts_at: datetime | None
    ends_at: datetime | None
    reason: str
    active: bool = Field(description="false once released")
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None


class LegalHoldPage(BaseModel):
    items: list[LegalHold]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


ReplayableTopic = Literal["sextant.activity", "sextant.activity.attributed", "sextant.identity"]


class RestoreRequest(BaseModel):
    """Archived events of these topics in [since, until) to publish again as replays."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "topics": ["sextant.activity.attributed"],
                    "since": "2026-03-01T00:00:00Z",
                    "until": "2026-04-01T00:00:00Z",
                    "workspace_id": None,
                }
            ]
        },
    )

    topics: list[ReplayableTopic] = Field(
        min_length=1,
        max_length=3,
        description="the topics projections are built from (a config change or a purge "
        "request is never replayed)",
    )
    since: Moment = Field(description="events at or after this moment")
    until: Moment = Field(description="events before this moment")
    workspace_id: UUID | None = Field(default=None, description="only this workspace's events")

    @field_validator("until")
    @classmethod
    def _until_after_since(cls, value: datetime, info: ValidationInfo) -> datetime:
        since = info.data.get("since")
        if since is not None and value <= since:
            raise ValueError("must be after since")
        return value


class Restore(BaseModel):
    """A restore and its progress."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f1c4-7a00-7000-8000-0000000000c1",
                    "status": "running",
                    "topics": ["sextant.activity.attributed"],
                    "since": "2026-03-01T00:00:00Z",
                    "until": "2026-04-01T00:00:00Z",
                    "workspace_id": None,
                    "objects_total": 12,
                    "objects_done": 5,
                    "events_published": 250000,
                    "failure": None,
                    "requested_by": "admin@example.com",
                    "created_at": "2026-06-01T10:00:00Z",
                    "finished_at": None,
                }
            ]
        }
    )

    id: UUID
    status: Literal["pending", "running", "done", "failed"]
    topics: list[str]
    since: datetime
    until: datetime
    workspace_id: UUID | None
    objects_total: int | None = Field(description="the objects it covers, once verified")
    objects_done: int
    events_published: int
    failure: str | None = Field(description="why it failed, naming the first bad object")
    requested_by: str
    created_at: datetime
    finished_at: datetime | None

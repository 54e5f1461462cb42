"""Archive's request and reply models."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field


class Manifest(BaseModel):
    """One object of the cold store, as its manifest entry records it."""

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
    prev_hash: str = Field(description="the hash of the entry before it (64 zeros for the first)")
    row_hash: str = Field(description="SHA-256 over this entry and prev_hash")
    created_at: datetime


class ManifestPage(BaseModel):
    items: list[Manifest]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class VerificationFinding(BaseModel):
    seq: int = Field(description="the manifest entry it concerns")
    object_key: str = Field(description="the object it concerns (empty: a missing entry)")
    reason: str


class VerificationReport(BaseModel):
    """The cold store re-read: every object against its entry, and the chain."""

    intact: bool = Field(description="true when nothing was found wrong")
    objects: int = Field(description="objects re-read")
    events: int = Field(description="events their entries count")
    first_bad_object: str | None = Field(
        description="the object of the earliest finding; null when intact"
    )
    findings: list[VerificationFinding]

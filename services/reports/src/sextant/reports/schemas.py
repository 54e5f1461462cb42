"""The reports API's request and reply models."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from sextant.contracts.events.platform import Role
from sextant.reports.domain.kinds import Kind

Format = Literal["pdf", "csv"]
DefinitionId = Literal["dora-2021", "dora-2023", "dora-2024"]  # insights' definitions
ROLLUP_TENANTS = (2, 20)  # the fewest and most tenants a roll-up puts side by side
Status = Literal["queued", "running", "done", "failed"]
LONGEST_PERIOD_DAYS = 3 * 366  # insights answers at most three years at once
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)  # every zone's midnights fit


class ReportRequest(BaseModel):
    """What to report on; the scope is the request's ``?scope=``, checked by the gateway."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "dora",
                    "from": "2026-03-02",
                    "to": "2026-03-08",
                    "format": "pdf",
                    "time_zone": "Europe/Paris",
                }
            ]
        },
    )

    kind: Kind = Field(
        description="dora: the DORA keys over the period; compliance: the evidence pack "
        "(unreviewed merges, production deployments and their gates, gate evaluations and "
        "overrides); sprint: the sprints that started in it; forecast: how many items the "
        "scope finishes from today to the period's last day (and when `items` will be done); "
        "developer-trends: each of the tenant's developers against their own past (managers "
        "and tenant admins, when the tenant shows per-developer metrics); rollup: the DORA and "
        "flow numbers of several tenants side by side (`tenants`, no scope)"
    )
    period_from: date = Field(alias="from", description="first day of the period (included)")
    period_to: date = Field(alias="to", description="last day of the period (included)")
    format: Format = Field(default="pdf", description="pdf or csv")
    time_zone: str = Field(
        default="UTC",
        max_length=64,
        description="IANA time zone the days are counted in, e.g. Europe/Paris",
    )

    items: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="forecast only: also forecast when this many items will be done",
    )
    tenants: list[UUID] | None = Field(
        default=None,
        min_length=ROLLUP_TENANTS[0],
        max_length=ROLLUP_TENANTS[1],
        description="rollup only: the tenants side by side, 2 to 20; each one other than the "
        "caller's own must have granted the caller's tenant (POST /v1/rollup-grants), a "
        "platform admin may name any",
    )
    definition: DefinitionId | None = Field(
        default=None,
        description="rollup only: the DORA definition the keys are computed under (default "
        "dora-2024)",
    )

    @field_validator("tenants")
    @classmethod
    def _distinct(cls, value: list[UUID] | None) -> list[UUID] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("names a tenant twice")
        return value

    @model_validator(mode="after")
    def _rollup_fields(self) -> ReportRequest:
        if self.kind == "rollup" and self.tenants is None:
            raise ValueError("tenants: a rollup names the tenants it puts side by side")
        if self.kind != "rollup" and self.tenants is not None:
            raise ValueError("tenants: for the rollup kind only")
        if self.kind != "rollup" and self.definition is not None:
            raise ValueError("definition: for the rollup kind only")
        return self

    @field_validator("period_from", "period_to")
    @classmethod
    def _storable_day(cls, value: date) -> date:
        if not EARLIEST_DAY <= value <= LATEST_DAY:
            raise ValueError(f"must lie between {EARLIEST_DAY} and {LATEST_DAY}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


def known_zone(value: str) -> str:
    """``value`` when it names an IANA zone; a ValueError (422) otherwise."""
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone") from None
    return value


def _zones() -> set[str]:
    """IANA names only (ZoneInfo alone would also open a path like ``../etc``)."""
    return available_timezones() | {"UTC"}


REPORT_EXAMPLE: dict[str, JsonValue] = {
    "id": "01a24c0b-fe8d-7377-8d87-5d73ab74e7f6",
    "kind": "dora",
    "format": "pdf",
    "scope": "workspace:0190f5c2-1111-7c3a-9d3e-1b2c3d4e5f60",
    "from": "2026-03-02",
    "to": "2026-03-08",
    "time_zone": "Europe/Paris",
    "status": "done",
    "progress": 100,
    "step": "done",
    "reason": None,
    "file": "/v1/reports/01a24c0b-fe8d-7377-8d87-5d73ab74e7f6/file",
    "size_bytes": 7155,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "attempts": 1,
    "requested_by": "alice@example.com",
    "items": None,
    "schedule_id": None,
    "tenants": None,
    "definition": None,
    "created_at": "2026-03-09T08:00:00Z",
    "finished_at": "2026-03-09T08:00:03Z",
}


class ReportView(BaseModel):
    """A report job: what was asked, how far it is, and where its file is."""

    model_config = ConfigDict(json_schema_extra={"examples": [REPORT_EXAMPLE]})

    id: UUID
    kind: Kind
    format: Format
    scope: str
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    time_zone: str
    status: Status = Field(description="queued, running, done or failed")
    progress: int = Field(ge=0, le=100, description="percent done")
    step: str = Field(description="what the worker is doing, or did last")
    reason: str | None = Field(description="why it failed (failed only)")
    file: str | None = Field(description="where to download it (done only)")
    size_bytes: int | None
    sha256: str | None
    attempts: int = Field(description="how many times it was rendered or tried")
    requested_by: str
    items: int | None = Field(default=None, description="forecast: the when forecast's items")
    schedule_id: UUID | None = Field(
        default=None, description="the schedule that produced it; none when asked for"
    )
    tenants: list[UUID] | None = Field(
        default=None, description="rollup: the tenants side by side, in the asked order"
    )
    definition: str | None = Field(default=None, description="rollup: the DORA definition")
    created_at: datetime
    finished_at: datetime | None


class ReportPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [REPORT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ReportView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


Every = Literal["weekly", "monthly"]
DEFAULT_NOTIFY: list[Role] = ["tenant_admin", "manager"]


class ScheduleRequest(BaseModel):
    """A report to produce on its own, weekly or monthly; the scope is ``?scope=``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "dora",
                    "format": "pdf",
                    "every": "weekly",
                    "day": 1,
                    "at": "08:00",
                    "time_zone": "Europe/Paris",
                    "notify": ["tenant_admin", "manager"],
                }
            ]
        },
    )

    kind: Kind = Field(description="the report kind, as for POST /v1/reports")
    format: Format = Field(default="pdf", description="pdf or csv")
    every: Every = Field(
        description="weekly: reports on the seven days before each run; monthly: on the "
        "calendar month before it"
    )
    day: int = Field(
        ge=1,
        le=31,
        description="weekly: 1 (Monday) to 7 (Sunday); monthly: 1 to 31 (a day past a "
        "month's end runs on its last day)",
    )
    at: time = Field(
        description="local time of the run, HH:MM, in time_zone (a time skipped by a "
        "daylight-saving change runs after the jump; a repeated one, the first time)"
    )
    time_zone: str = Field(default="UTC", max_length=64, description="IANA time zone of day and at")
    notify: list[Role] = Field(
        default_factory=lambda: list(DEFAULT_NOTIFY),
        min_length=1,
        max_length=5,
        description="the roles notified when a report of this schedule is ready or failed",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("at")
    @classmethod
    def _naive_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a local time without an offset (the zone is time_zone)")
        return value

    @model_validator(mode="after")
    def _weekday(self) -> ScheduleRequest:
        if self.kind == "forecast":
            raise ValueError("kind: a forecast looks ahead; schedules report on past periods")
        if self.kind == "rollup":
            raise ValueError("kind: a rollup names tenants, which a schedule does not keep")
        if self.every == "weekly" and self.day > 7:
            raise ValueError(f"day: a weekly day is 1 (Monday) to 7 (Sunday), not {self.day}")
        return self


SCHEDULE_EXAMPLE: dict[str, JsonValue] = {
    "id": "01a24c0b-fe8d-7377-8d87-5d73ab74e7f7",
    "kind": "dora",
    "format": "pdf",
    "scope": "workspace:0190f5c2-1111-7c3a-9d3e-1b2c3d4e5f60",
    "scope_workspaces": ["0190f5c2-1111-7c3a-9d3e-1b2c3d4e5f60"],
    "every": "weekly",
    "day": 1,
    "at": "08:00:00",
    "time_zone": "Europe/Paris",
    "notify": ["tenant_admin", "manager"],
    "created_by": "alice@example.com",
    "created_at": "2026-03-20T10:00:00Z",
    "next_run_at": "2026-03-23T07:00:00Z",
    "last_run_at": None,
    "last_report_id": None,
}


class ScheduleView(BaseModel):
    """A schedule: what it produces, when it runs next, and what it produced last."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCHEDULE_EXAMPLE]})

    id: UUID
    kind: Kind
    format: Format
    scope: str
    scope_workspaces: list[UUID] = Field(
        description="the workspaces each run reports on: the scope's when it was created or "
        "last given (PATCH), less those purged since"
    )
    every: Every
    day: int
    at: time
    time_zone: str
    notify: list[Role]
    created_by: str
    created_at: datetime
    next_run_at: datetime | None = Field(description="the next run, in UTC; none when paused")
    last_run_at: datetime | None = Field(description="the last run, in UTC")
    last_report_id: UUID | None = Field(description="the report the last run produced")
    paused_at: datetime | None = Field(
        default=None,
        description="when it stopped running: the purge of a workspace left its scope none "
        "(PATCH it a scope to run it again)",
    )


class SchedulePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [SCHEDULE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ScheduleView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


GRANT_EXAMPLE: dict[str, JsonValue] = {
    "id": "01a24c0b-fe8d-7377-8d87-5d73ab74e7f8",
    "grantee_tenant_id": "0190d6a0-0000-7000-8000-000000000002",
    "granted_by": "alice@example.com",
    "created_at": "2026-03-20T10:00:00Z",
}


class GrantRequest(BaseModel):
    """Let another tenant put this tenant's metrics in its cross-tenant roll-ups."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"grantee_tenant_id": GRANT_EXAMPLE["grantee_tenant_id"]}]},
    )

    grantee_tenant_id: UUID = Field(
        description="the tenant granted read access to this tenant's roll-up metrics (a "
        "partner's own tenant); its tenant admins and managers may then name this tenant "
        "in a roll-up"
    )


class GrantView(BaseModel):
    """A roll-up grant: who may read this tenant's roll-up metrics, given by whom, when."""

    model_config = ConfigDict(json_schema_extra={"examples": [GRANT_EXAMPLE]})

    id: UUID
    grantee_tenant_id: UUID
    granted_by: str
    created_at: datetime


class GrantPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [GRANT_EXAMPLE], "next_cursor": None}]}
    )

    items: list[GrantView]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")

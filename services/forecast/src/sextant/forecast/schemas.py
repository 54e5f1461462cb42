"""Forecast's HTTP shapes (requests are query parameters; these are the replies)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from sextant.runtime.openapi import extended_example

# What the examples below share: a scope, its inputs and how well its forecasts held.
INPUTS: JsonDict = {
    "scope": "workspace:0b8e2f6a-1c4d-4e7f-9a2b-3c5d7e9f1a2b",
    "item_types": None,
    "history_weeks": [4, 6, 3, 5, 7, 5],
    "options": {"trials": 10000, "seed": 0, "window_weeks": 52, "capacity_factor": 1.0},
    "model": "blocks and level: the past's weeks are not independent (p = 0.002)",
}
CALIBRATION: JsonDict = {
    "kind": "how_many",
    "available": True,
    "rows": [
        {
            "horizon_weeks": 4,
            "origins": 20,
            "first_origin": "2025-03-03",
            "last_origin": "2026-10-05",
            "step_weeks": 4,
            "hit_share": {"50": 0.55, "85": 0.85},
            "bands": {"50": [0.3, 0.7], "85": [0.65, 1.0]},
            "median_width": 14.5,
            "mean_crps": 3.2,
        }
    ],
}


class CalibrationRow(BaseModel):
    """One horizon of a rolling-origin backtest: a forecast made at every origin from the
    weeks before it only, scored against what followed."""

    horizon_weeks: int = Field(
        description="how many: the weeks counted; when: the backlog is what the horizon's "
        "weeks before the origin delivered, looked for up to 3 horizons ahead"
    )
    origins: int = Field(description="how many forecasts were scored")
    first_origin: date = Field(description="the Monday the earliest scored forecast was made on")
    last_origin: date = Field(description="the Monday the latest scored forecast was made on")
    step_weeks: int = Field(description="weeks between origins")
    hit_share: dict[int, float] = Field(
        description="percentile → share of past forecasts that held"
    )
    bands: dict[int, tuple[float, float]] = Field(
        description="percentile → where a calibrated method's share lands with 95 % "
        "probability given these origins (a binomial interval on the origins that do not "
        "overlap, never narrower than the fixed target)"
    )
    median_width: float = Field(
        description="median width of the central 90 % interval (items, or weeks for when)"
    )
    mean_crps: float = Field(description="mean CRPS over the origins (lower is better)")


class CalibrationReport(BaseModel):
    """How well this method's forecasts held on this scope's own history."""

    kind: Literal["how_many", "when"] = Field(description="which forecast was backtested")
    available: bool
    reason: str | None = None
    rows: list[CalibrationRow] = Field(default_factory=list)


class Inputs(BaseModel):
    scope: str
    item_types: list[str] | None
    history_weeks: list[int] = Field(description="the weekly throughput sampled, oldest first")
    options: dict[str, Any] = Field(description="the options the simulation ran with")
    model: str = Field(
        description="what was sampled and why: blocks of weeks and a level factor, or single "
        "weeks where the scope's whole history gave no reason to doubt that its weeks are "
        "independent (three tests, the smallest p-value times 3 against 0.05)"
    )


class HowManyReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "until": "2027-01-31",
                    "horizon_weeks": 8,
                    "percentiles": {"50": 41, "85": 34, "95": 30},
                    "curve": [[30, 0.95], [34, 0.85], [41, 0.5]],
                    "inputs": INPUTS,
                    "calibration": CALIBRATION,
                }
            ]
        }
    )

    until: date
    horizon_weeks: int
    percentiles: dict[int, int] = Field(description="P85 = items done with 85 % probability")
    curve: list[tuple[int, float]] = Field(description="(items, probability of at least that many)")
    inputs: Inputs
    calibration: CalibrationReport


class WhenReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": 30,
                    "percentiles": {"50": "2027-01-18", "85": "2027-02-01", "95": "2027-02-08"},
                    "percentile_weeks": {"50": 5.71, "85": 7.86, "95": 8.43},
                    "curve": [["2027-01-18", 0.5], ["2027-02-01", 0.85]],
                    "done_within_horizon": 1.0,
                    "inputs": INPUTS,
                    "calibration": {**CALIBRATION, "kind": "when"},
                }
            ]
        }
    )

    items: int
    percentiles: dict[int, date | None] = Field(
        description="P85 = done by that date with 85 % probability"
    )
    percentile_weeks: dict[int, float | None] = Field(
        description="the same in weeks from today, fractional: the finish is placed inside "
        "its week by the share of that week's items still needed"
    )
    curve: list[tuple[date, float]] = Field(description="(date, probability of being done by then)")
    done_within_horizon: float
    inputs: Inputs
    calibration: CalibrationReport = Field(
        description="when forecasts backtested on this scope's history: which origins, each "
        "horizon, how often each percentile's date held"
    )


class StaleItem(BaseModel):
    workspace_id: str
    key: str
    title: str
    item_type: str
    status: str
    age_days: float
    percentile: float
    score: float
    explanation: str


class StaleReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": INPUTS["scope"],
                    "items": [
                        {
                            "workspace_id": "0b8e2f6a-1c4d-4e7f-9a2b-3c5d7e9f1a2b",
                            "key": "WEB-142",
                            "title": "Checkout times out on retry",
                            "item_type": "story",
                            "status": "In Review",
                            "age_days": 23.5,
                            "percentile": 0.97,
                            "score": 2.4,
                            "explanation": "in progress 23.5 days; 97 % of stories finish sooner",
                        }
                    ],
                    "dismissed": 1,
                }
            ]
        }
    )

    scope: str
    items: list[StaleItem]
    dismissed: int = Field(
        description="flags people dismissed as wrong, for the false-positive rate"
    )


class SprintForecastReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60",
                    "sprint_id": "1042",
                    "name": "Sprint 42",
                    "ends_at": "2026-12-11T17:00:00Z",
                    "probability_done": 0.62,
                    "remaining": {"not_started": 3, "in_progress": 4, "done": 9},
                    "in_progress_finish_probabilities": [0.9, 0.75, 0.6, 0.4],
                    "inputs": INPUTS,
                }
            ]
        }
    )

    id: UUID = Field(description="the sprint's id in this API (GET /v1/sprints)")
    sprint_id: str = Field(description="the tool's id of the sprint")
    name: str
    ends_at: datetime | None
    probability_done: float = Field(
        description="chance the remaining scope is done by the sprint's end"
    )
    remaining: dict[str, int] = Field(description="items not started / in progress / done")
    in_progress_finish_probabilities: list[float] = Field(
        description="per in-progress item, from its age"
    )
    inputs: Inputs


class BacktestReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": INPUTS["scope"],
                    "calibration": CALIBRATION,
                    "when_calibration": {**CALIBRATION, "kind": "when"},
                    "targets": {"50": [0.4, 0.6], "85": [0.8, 0.9]},
                }
            ]
        }
    )

    scope: str
    calibration: CalibrationReport = Field(description="how-many forecasts, backtested")
    when_calibration: CalibrationReport = Field(description="when forecasts, backtested")
    targets: dict[int, tuple[float, float]] = Field(
        description="the band each percentile should land in"
    )


class CycleTimeSummary(BaseModel):
    item_type: str
    items: int
    percentiles_days: dict[int, float] = Field(description="P50/P85/P95 of start-to-done, in days")


class HistoryReply(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": INPUTS["scope"],
                    "started": ["in_progress"],
                    "done": ["done"],
                    "weeks": ["2026-11-16", "2026-11-23"],
                    "throughput": [5, 7],
                    "days": ["2026-11-16", "2026-11-17"],
                    "daily_throughput": [1, 2],
                    "cycle_time": [
                        {
                            "item_type": "story",
                            "items": 12,
                            "percentiles_days": {"50": 3.5, "85": 8.0, "95": 12.5},
                        }
                    ],
                }
            ]
        }
    )

    scope: str
    started: list[str] = Field(description="statuses or categories that count as started")
    done: list[str] = Field(description="statuses or categories that count as done")
    weeks: list[date] = Field(description="Monday of each completed week, oldest first")
    throughput: list[int]
    days: list[date] = Field(description="each day (UTC) of the same completed weeks")
    daily_throughput: list[int] = Field(description="items done on each of ``days``")
    cycle_time: list[CycleTimeSummary]


# the read API ----------------------------------------------------------------------------

_ITEM_EXAMPLE: dict[str, Any] = {
    "id": "5f0c2a64-3d8e-4b8e-9a51-2f7f1d0c9b11",
    "workspace_id": "0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60",
    "key": "ENG-42",
    "title": "Export the dashboard",
    "item_type": "story",
    "status": "In Progress",
    "status_category": "in_progress",
    "source_kind": "jira",
    "source_id": "0190f5c2-9c30-7e5c-9f50-3d4e5f6a7b82",
    "external_id": "10070",
    "url": "https://jira.example.org/browse/ENG-42",
    "assignee_developer_id": "0190f5c2-8b2f-7d4b-8e4f-2c3d4e5f6a71",
    "created_at": "2026-11-02T09:15:00Z",
    "started_at": "2026-11-04T10:00:00Z",
    "resolved_at": None,
    "status_changed_at": "2026-11-04T10:00:00Z",
    "stale": False,
    "stale_flagged_at": None,
    "stale_dismissed_at": None,
}


class WorkItemSummary(BaseModel):
    """A work item as it stands now (one row of the list, one line of its CSV)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: UUID = Field(description="this API's id of the item (GET /v1/work-items/{id})")
    workspace_id: UUID
    key: str = Field(description="the tool's key, e.g. ENG-42 or octo-org/octo-repo#42")
    title: str
    item_type: str
    status: str = Field(description="the tool's status name")
    status_category: str = Field(description="todo, in_progress or done")
    source_kind: str = Field(description="the tool: jira, github, gitlab")
    source_id: UUID | None = Field(
        description="the source connection it came from (GET /v1/sources/{id}); none for "
        "items last changed before forecast kept it"
    )
    external_id: str = Field(description="the tool's own id of the item")
    url: str | None = Field(description="the item in the tool, when the tool gave one")
    assignee_developer_id: UUID | None = Field(
        description="the developer (GET /v1/developers/{id}) it is assigned to"
    )
    created_at: datetime
    started_at: datetime | None = Field(description="when it first left todo")
    resolved_at: datetime | None = Field(description="when it was done; none when reopened")
    status_changed_at: datetime = Field(description="when it entered its current status")
    stale: bool = Field(description="flagged stale by the scan and not dismissed")
    stale_flagged_at: datetime | None
    stale_dismissed_at: datetime | None


class WorkItemList(BaseModel):
    items: list[WorkItemSummary]
    total: int = Field(description="items matching the filters in all pages")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; none last")


class StatusChange(BaseModel):
    from_status: str | None = Field(description="none for the item's creation")
    to_status: str
    to_category: str
    at: datetime


class SprintSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8d7e6f5a-4b3c-4d2e-9f1a-0b1c2d3e4f50",
                    "workspace_id": "0190f5c2-7a1e-7c3a-9d3e-1b2c3d4e5f60",
                    "source_sprint_id": "37",
                    "name": "Sprint 12",
                    "state": "active",
                    "starts_at": "2026-11-30T09:00:00Z",
                    "ends_at": "2026-12-14T17:00:00Z",
                    "closed_at": None,
                }
            ]
        }
    )

    id: UUID = Field(description="this API's id (GET /v1/sprints/{id}, …/forecast)")
    workspace_id: UUID
    source_sprint_id: str = Field(description="the tool's id of the sprint")
    name: str
    state: Literal["active", "closed", "future"]
    starts_at: datetime | None
    ends_at: datetime | None
    closed_at: datetime | None


class SprintList(BaseModel):
    items: list[SprintSummary]
    total: int = Field(description="sprints matching the filters in all pages")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; none last")


class SprintDetail(SprintSummary):
    model_config = extended_example(SprintSummary, items={"todo": 3, "in_progress": 2, "done": 5})

    items: dict[str, int] = Field(
        description="its work items per status category (list them with ?sprint=<id>)",
        examples=[{"todo": 3, "in_progress": 2, "done": 5}],
    )


class WorkItemDetail(WorkItemSummary):
    model_config = extended_example(
        WorkItemSummary,
        status_history=[
            {
                "from_status": None,
                "to_status": "To Do",
                "to_category": "todo",
                "at": "2026-11-20T09:00:00Z",
            },
            {
                "from_status": "To Do",
                "to_status": "In Progress",
                "to_category": "in_progress",
                "at": "2026-11-24T10:30:00Z",
            },
        ],
        sprints=[],
    )

    status_history: list[StatusChange] = Field(description="oldest first")
    sprints: list[SprintSummary] = Field(description="the sprints it is or was in")

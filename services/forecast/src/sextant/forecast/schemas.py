"""Forecast's HTTP shapes (requests are query parameters; these are the replies)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class CalibrationRow(BaseModel):
    horizon_weeks: int
    origins: int
    hit_share: dict[int, float] = Field(
        description="percentile → share of past forecasts that held"
    )


class CalibrationReport(BaseModel):
    """How well this method's forecasts held on this scope's own history."""

    available: bool
    reason: str | None = None
    rows: list[CalibrationRow] = Field(default_factory=list)


class Inputs(BaseModel):
    scope: str
    item_types: list[str] | None
    history_weeks: list[int] = Field(description="the weekly throughput sampled, oldest first")
    options: dict[str, Any]


class HowManyReply(BaseModel):
    until: date
    horizon_weeks: int
    percentiles: dict[int, int] = Field(description="P85 = items done with 85 % probability")
    curve: list[tuple[int, float]] = Field(description="(items, probability of at least that many)")
    inputs: Inputs
    calibration: CalibrationReport


class WhenReply(BaseModel):
    items: int
    percentiles: dict[int, date | None] = Field(
        description="P85 = done by that date with 85 % probability"
    )
    percentile_weeks: dict[int, int | None]
    curve: list[tuple[date, float]] = Field(description="(date, probability of being done by then)")
    done_within_horizon: float
    inputs: Inputs
    calibration: CalibrationReport


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
    scope: str
    items: list[StaleItem]
    dismissed: int = Field(
        description="flags people dismissed as wrong, for the false-positive rate"
    )


class SprintForecastReply(BaseModel):
    sprint_id: str
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
    scope: str
    calibration: CalibrationReport
    targets: dict[int, tuple[float, float]] = Field(
        description="the band each percentile should land in"
    )


class CycleTimeSummary(BaseModel):
    item_type: str
    items: int
    percentiles_days: dict[int, float] = Field(description="P50/P85/P95 of start-to-done, in days")


class HistoryReply(BaseModel):
    scope: str
    started: list[str] = Field(description="statuses or categories that count as started")
    done: list[str] = Field(description="statuses or categories that count as done")
    weeks: list[date] = Field(description="Monday of each completed week, oldest first")
    throughput: list[int]
    days: list[date] = Field(description="each day (UTC) of the same completed weeks")
    daily_throughput: list[int] = Field(description="items done on each of ``days``")
    cycle_time: list[CycleTimeSummary]

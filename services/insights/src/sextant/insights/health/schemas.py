"""The suggestions API's request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


class RunRequest(BaseModel):
    team_id: UUID | None = Field(
        default=None,
        description="the team the run is about (recorded; until insights knows teams, a run "
        "covers the whole workspace)",
    )


class RunResult(BaseModel):
    findings: int = Field(description="problems the detectors found")
    suggestions: int = Field(description="suggestions made (after cooldowns and repeats)")
    held_back: int = Field(description="suggestions not made again (cooldown, open, snoozed)")
    written_by: Literal["model", "template"] = Field(
        description="model: Gemini was asked and its grounded suggestions kept; template: "
        "every suggestion written from its finding"
    )
    fallback: str | None = Field(
        description="why templates wrote everything: no_api_key, token_budget, breaker_open, "
        "timeout, http_<status>, network, no_prompt"
    )
    dropped: dict[str, int] = Field(
        description="model suggestions dropped by the grounding check, by reason "
        "(unknown_finding, unknown_person, invalid, malformed_reply)"
    )
    tokens: int = Field(description="Gemini tokens the run spent")
    by_kind: dict[str, int] = Field(description="findings by kind")


class Run(BaseModel):
    id: UUID
    workspace_id: UUID
    team_id: UUID | None
    trigger: Literal["on_demand", "schedule"]
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: int = Field(ge=0, le=100, description="percent done")
    step: str = Field(description="what the run is doing or did last")
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: RunResult | None = Field(description="set once the run succeeded")
    error: str | None


class Person(BaseModel):
    alias: str = Field(description="how the text names them, e.g. P1")
    developer_id: UUID


class Suggestion(BaseModel):
    id: UUID
    run_id: UUID
    workspace_id: UUID
    team_id: UUID | None
    kind: str = Field(description="the kind of its first finding, e.g. pairing")
    severity: Literal["low", "medium", "high"]
    title: str
    action: str
    rationale: str
    finding_ids: list[str]
    findings: list[dict[str, Any]] = Field(
        description="the findings it rests on: kind, severity, people, area, evidence numbers, "
        "the change and work-item ids behind them"
    )
    people: list[Person] = Field(description="the pseudonyms its text uses, and who they are")
    area: str | None
    written_by: Literal["model", "template"]
    rank: float = Field(description="severity weight x the kind's expected acceptance")
    status: Literal["open", "confirmed", "rejected", "snoozed"]
    snoozed_until: datetime | None
    created_at: datetime


class SuggestionPage(BaseModel):
    items: list[Suggestion]
    next_cursor: str | None


class FeedbackRequest(BaseModel):
    verdict: Literal["confirm", "reject", "snooze"]
    reason: str | None = Field(default=None, max_length=2000, pattern=PRINTABLE)
    snooze_days: int = Field(
        default=14, ge=1, le=365, description="for a snooze: days until it may come back"
    )


class KindStats(BaseModel):
    kind: str
    confirmed: int
    rejected: int
    snoozed: int
    open: int
    acceptance_rate: float | None = Field(
        description="confirmed / (confirmed + rejected); null before any verdict"
    )
    expected_acceptance: float = Field(
        description="the Beta(1, 1) posterior mean that ranks the kind's suggestions"
    )


class SuggestionStats(BaseModel):
    kinds: list[KindStats]

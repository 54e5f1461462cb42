"""The suggestions API's request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
WORKSPACE = "0190f000-0000-7000-8000-00000000a001"
RUN = "0190f000-0000-7000-8000-00000000b001"
SUGGESTION = "0190f000-0000-7000-8000-00000000c001"
ALICE = "0190f000-0000-7000-8000-00000000d001"
RESULT: dict[str, Any] = {
    "findings": 3,
    "suggestions": 2,
    "held_back": 1,
    "written_by": "model",
    "fallback": None,
    "dropped": {"unknown_person": 1},
    "tokens": 1840,
    "by_kind": {"knowledge_silo": 1, "reviewer_load": 1, "review_wait": 1},
}
RUN_EXAMPLE: dict[str, Any] = {
    "id": RUN,
    "workspace_id": WORKSPACE,
    "team_id": None,
    "trigger": "on_demand",
    "status": "succeeded",
    "progress": 100,
    "step": "done",
    "requested_by": "mia@example.com",
    "created_at": "2026-03-02T09:00:00Z",
    "started_at": "2026-03-02T09:00:01Z",
    "finished_at": "2026-03-02T09:00:09Z",
    "result": RESULT,
    "error": None,
}
FINDING: dict[str, Any] = {
    "id": "knowledge_silo-3f2a1c9b0d",
    "kind": "knowledge_silo",
    "severity": "high",
    "people": [ALICE],
    "area": "octo/billing",
    "evidence": {"author_share": 1.0, "changes": 12},
    "change_ids": [],
    "item_ids": [],
    "detail": {},
}
SUGGESTION_EXAMPLE: dict[str, Any] = {
    "id": SUGGESTION,
    "run_id": RUN,
    "workspace_id": WORKSPACE,
    "team_id": None,
    "kind": "knowledge_silo",
    "severity": "high",
    "title": "P1 wrote 100 % of octo/billing's changes this year",
    "action": "Have a teammate pair with P1 or review in octo/billing to share the knowledge.",
    "rationale": "12 changes in the last year; one author is a bus factor of 1.",
    "finding_ids": ["knowledge_silo-3f2a1c9b0d"],
    "findings": [FINDING],
    "people": [{"alias": "P1", "developer_id": ALICE}],
    "area": "octo/billing",
    "written_by": "template",
    "rank": 1.5,
    "status": "open",
    "snoozed_until": None,
    "created_at": "2026-03-02T09:00:09Z",
}


class RunRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"team_id": None}]})

    team_id: UUID | None = Field(
        default=None,
        description="the team the run is about: its members today, the changes they wrote, "
        "the reviews they gave and the items assigned to them (none: the whole workspace)",
    )


class RunResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RESULT]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [RUN_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"alias": "P1", "developer_id": ALICE}]}
    )

    alias: str = Field(description="how the text names them, e.g. P1")
    developer_id: UUID


class Suggestion(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUGGESTION_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [SUGGESTION_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Suggestion]
    next_cursor: str | None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"verdict": "reject", "reason": "billing is Alice's by design", "snooze_days": 14}
            ]
        }
    )

    verdict: Literal["confirm", "reject", "snooze"]
    reason: str | None = Field(default=None, max_length=2000, pattern=PRINTABLE)
    snooze_days: int = Field(
        default=14, ge=1, le=365, description="for a snooze: days until it may come back"
    )


KIND_EXAMPLE: dict[str, Any] = {
    "kind": "knowledge_silo",
    "confirmed": 3,
    "rejected": 1,
    "snoozed": 0,
    "open": 2,
    "acceptance_rate": 0.75,
    "expected_acceptance": 0.666667,
}


class KindStats(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [KIND_EXAMPLE]})

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
    model_config = ConfigDict(json_schema_extra={"examples": [{"kinds": [KIND_EXAMPLE]}]})

    kinds: list[KindStats]

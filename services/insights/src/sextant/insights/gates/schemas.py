"""The gates' HTTP shapes: a policy as a workspace or view sets it, an evaluation as a
pipeline reads it. A policy that cannot be applied (an unknown time zone, a pattern that
does not compile, a severity that reads as none) is refused here, so a 422 names its field."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sextant.insights.gates import rules

Enforcement = Literal["block", "warn"]
OutcomeName = Literal["pass", "warn", "fail", "unknown"]
PolicyRole = Literal["tenant_admin", "manager"]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleSettings(Strict):
    enforcement: Enforcement = Field(
        default="block", description="block: a failure fails the gate; warn: it only warns"
    )


class ReviewsRule(RuleSettings):
    minimum: int = Field(
        default=1, ge=1, le=20, description="approving reviews by people other than the author"
    )


class WorkItemRule(RuleSettings):
    pattern: str = Field(
        default=rules.DEFAULT_WORK_ITEM_PATTERN,
        max_length=200,
        description="a regular expression a work-item key matches, looked for in the change "
        "request's title and head branch",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class BuildsRule(RuleSettings):
    pass


class SizeRule(Strict):
    warn_over_lines: int = Field(default=400, ge=1, description="more changed lines warn")


class IncidentsRule(RuleSettings):
    severity_at_least: str = Field(
        default="SEV2",
        max_length=20,
        description="an open incident this severe or worse on the target service fails the gate "
        "(SEV0-9, P0-9, critical, high, medium, low)",
    )

    @field_validator("severity_at_least")
    @classmethod
    def _reads(cls, value: str) -> str:
        if rules.severity_rank(value) is None:
            raise ValueError("not a severity: SEV0-9, P0-9, critical, high, medium or low")
        return value


class DeliveryBudgetRule(RuleSettings):
    definition: Literal["dora-2021", "dora-2023", "dora-2024"] = Field(
        default="dora-2024",
        description="the DORA definition the rate and recovery are computed under",
    )
    window_days: int = Field(default=28, ge=1, le=365, description="the trailing window")
    max_change_failure_rate: float | None = Field(
        default=0.15, ge=0, le=1, description="a fraction; none: not checked"
    )
    max_recovery_hours: float | None = Field(
        default=None, gt=0, le=24 * 365, description="median recovery; none: not checked"
    )


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone") from None
    return value


class FreezeWindow(Strict):
    """Either dated (``starts``/``ends``, wall-clock times in the zone) or weekly
    (``weekdays`` with ``from_time``/``to_time``)."""

    name: str = Field(min_length=1, max_length=100, pattern=PRINTABLE)
    time_zone: str = Field(max_length=64, description="an IANA zone, e.g. Europe/Paris")
    starts: datetime | None = Field(default=None, description="local wall-clock time, no offset")
    ends: datetime | None = Field(default=None, description="local wall-clock time, no offset")
    weekdays: list[int] | None = Field(
        default=None, description="0 = Monday … 6 = Sunday, for a weekly window"
    )
    from_time: time | None = None
    to_time: time | None = Field(default=None, description="at or before from_time: next day")

    _valid_zone = field_validator("time_zone")(_zone)

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or any(not 0 <= d <= 6 for d in value)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return value

    @field_validator("starts", "ends", "from_time", "to_time")
    @classmethod
    def _wall_clock(cls, value: datetime | time | None) -> datetime | time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a wall-clock time in time_zone, without an offset")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeWindow:
        dated = self.starts is not None or self.ends is not None
        weekly = self.weekdays is not None or self.from_time is not None or self.to_time is not None
        if dated == weekly:
            raise ValueError("a window is dated (starts, ends) or weekly (weekdays, from/to)")
        if dated and (self.starts is None or self.ends is None or self.starts >= self.ends):
            raise ValueError("a dated window needs starts before ends")
        if weekly and (self.weekdays is None or self.from_time is None or self.to_time is None):
            raise ValueError("a weekly window needs weekdays, from_time and to_time")
        return self

    def as_rule(self) -> rules.Freeze:
        if self.starts is not None and self.ends is not None:
            return rules.DatedFreeze(self.name, self.time_zone, self.starts, self.ends)
        assert self.weekdays is not None and self.from_time is not None
        assert self.to_time is not None
        return rules.WeeklyFreeze(
            self.name, self.time_zone, frozenset(self.weekdays), self.from_time, self.to_time
        )


class FreezeRule(Strict):
    windows: list[FreezeWindow] = Field(default_factory=list, max_length=100)
    environments: list[str] | None = Field(
        default=None, description="the environments frozen; none: every environment"
    )


class PolicyRules(Strict):
    """The rules a gate applies; a rule left out (null) is not applied."""

    reviews: ReviewsRule | None = Field(default_factory=ReviewsRule)
    work_item: WorkItemRule | None = None
    builds: BuildsRule | None = Field(default_factory=BuildsRule)
    size: SizeRule | None = None
    incidents: IncidentsRule | None = None
    delivery_budget: DeliveryBudgetRule | None = None
    freeze: FreezeRule | None = None


def _tenant_admin() -> list[PolicyRole]:
    return ["tenant_admin"]


class PolicyInput(Strict):
    rules: PolicyRules = Field(default_factory=PolicyRules)
    override_roles: list[PolicyRole] = Field(
        default_factory=_tenant_admin,
        min_length=1,
        description="who may override a failed gate (break-glass)",
    )


class Policy(PolicyInput):
    scope: str
    version: int = Field(description="0 is the built-in default, never stored")
    created_by: str | None
    created_at: datetime | None


# evaluations ---------------------------------------------------------------------------


class EvaluateRequest(Strict):
    repository: str = Field(
        min_length=1, max_length=500, pattern=PRINTABLE, description="e.g. octo-org/octo-repo"
    )
    sha: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{4,64}$", description="a commit SHA (hex)"
    )
    change_request: UUID | None = Field(default=None, description="a change request's id")
    environment: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)

    @model_validator(mode="after")
    def _one_target(self) -> EvaluateRequest:
        if (self.sha is None) == (self.change_request is None):
            raise ValueError("give sha or change_request, exactly one")
        return self


class RuleView(BaseModel):
    rule: str
    outcome: OutcomeName
    enforcement: Enforcement
    reason: str
    facts: list[str] = Field(description="ids of the facts behind it, e.g. review:<id>")


class Override(BaseModel):
    by: str
    reason: str
    at: datetime


class Evaluation(BaseModel):
    id: UUID
    scope: str
    workspace_id: UUID
    repository: str
    sha: str
    environment: str
    change_request_id: UUID | None
    policy_version: int
    verdict: OutcomeName
    rules: list[RuleView]
    evaluated_at: datetime
    requested_by: str
    override: Override | None = Field(description="break-glass: who overrode it, why, when")


class EvaluationPage(BaseModel):
    items: list[Evaluation]
    next_cursor: str | None


class OverrideRequest(Strict):
    reason: str = Field(min_length=5, max_length=2000, pattern=r"^[^\x00]*$")

"""The gates' HTTP shapes: a policy as a workspace or view sets it, an evaluation as a
pipeline reads it. A policy that cannot be applied (an unknown time zone, a pattern that
does not compile, a severity that reads as none) is refused here, so a 422 names its field."""

from __future__ import annotations

from datetime import datetime, time
from functools import cache
from typing import Any, Literal
from uuid import UUID
from zoneinfo import available_timezones

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sextant.insights.gates import rules
from sextant.runtime.openapi import extended_example

EXAMPLE_WORKSPACE = "0190f5c2-0000-7c3a-9d3e-1b2c3d4e5f60"

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
        description="a regular expression (RE2 syntax, matched in linear time) a work-item key "
        "matches, looked for in the change request's title and head branch",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            rules.work_item_keys(value)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(
                f"not an RE2 regular expression (no backreferences or lookarounds): {reason}"
            ) from None
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


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone")
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


POLICY_EXAMPLE: dict[str, Any] = {
    "rules": {
        "reviews": {"enforcement": "block", "minimum": 1},
        "work_item": {"enforcement": "block", "pattern": rules.DEFAULT_WORK_ITEM_PATTERN},
        "builds": {"enforcement": "block"},
        "size": {"warn_over_lines": 400},
        "incidents": {"enforcement": "block", "severity_at_least": "SEV2"},
        "delivery_budget": {
            "enforcement": "warn",
            "definition": "dora-2024",
            "window_days": 28,
            "max_change_failure_rate": 0.15,
            "max_recovery_hours": 24,
        },
        "freeze": {
            "windows": [
                {
                    "name": "year-end",
                    "time_zone": "Europe/Paris",
                    "starts": "2026-12-23T18:00:00",
                    "ends": "2027-01-04T08:00:00",
                },
                {
                    "name": "friday evenings",
                    "time_zone": "America/New_York",
                    "weekdays": [4],
                    "from_time": "16:00:00",
                    "to_time": "23:59:59",
                },
            ],
            "environments": ["production"],
        },
    },
    "override_roles": ["tenant_admin"],
}


class PolicyInput(Strict):
    """A gate policy as set: the rules it applies and who may override it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [POLICY_EXAMPLE]})

    rules: PolicyRules = Field(default_factory=PolicyRules)
    override_roles: list[PolicyRole] = Field(
        default_factory=_tenant_admin,
        min_length=1,
        description="who may override a failed gate (break-glass)",
    )


class Policy(PolicyInput):
    """A stored version of a scope's policy."""

    model_config = extended_example(
        PolicyInput,
        scope=f"workspace:{EXAMPLE_WORKSPACE}",
        version=3,
        created_by="ada@example.com",
        created_at="2026-03-02T09:00:00Z",
    )

    scope: str = Field(description="workspace:<id> or view:<id>")
    version: int = Field(description="0 is the built-in default, never stored")
    created_by: str | None = Field(description="who set it (none for the default)")
    created_at: datetime | None


# evaluations ---------------------------------------------------------------------------


class EvaluateRequest(Strict):
    """What to gate: a SHA (or a change request, at the SHA it stands at) of a repository,
    for an environment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"repository": "octo-org/api", "sha": "9f9f0001c0ffee", "environment": "production"}
            ]
        },
    )

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
    """A gate's answer, as stored: the evidence of what was let through and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0190f5c2-7777-7c3a-9d3e-1b2c3d4e5f60",
                    "scope": f"workspace:{EXAMPLE_WORKSPACE}",
                    "workspace_id": EXAMPLE_WORKSPACE,
                    "repository": "octo-org/api",
                    "sha": "9f9f0001c0ffee",
                    "environment": "production",
                    "change_request_id": "0190f5c2-8888-7c3a-9d3e-1b2c3d4e5f60",
                    "policy_version": 3,
                    "verdict": "fail",
                    "rules": [
                        {
                            "rule": "reviews",
                            "outcome": "fail",
                            "enforcement": "block",
                            "reason": "0 approving review(s) of the 1 required",
                            "facts": [],
                        },
                        {
                            "rule": "builds",
                            "outcome": "pass",
                            "enforcement": "block",
                            "reason": "1 build(s) green",
                            "facts": ["build:0190f5c2-9999-7c3a-9d3e-1b2c3d4e5f60"],
                        },
                    ],
                    "evaluated_at": "2026-03-02T12:00:00Z",
                    "requested_by": "ci-key",
                    "override": None,
                }
            ]
        }
    )

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
    """Why a failed gate is let through (kept on the evaluation and in the audit log)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "hotfix for INC-42, agreed on the call"}]},
    )

    reason: str = Field(min_length=5, max_length=2000, pattern=r"^[^\x00]*$")

"""The generic push for tools without a connector: deployments and incidents, as JSON
signed by the Standard Webhooks scheme. The body's ``type`` says which."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from sextant.contracts.events.activity import (
    DeploymentStatusChanged,
    IncidentOpened,
    IncidentResolved,
)
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.ingest.normalize.base import (
    Context,
    Fact,
    Malformed,
    Normalized,
    plausible,
    version_time,
)

KIND = "generic"


def _plausible(at: datetime) -> datetime:
    try:
        plausible(at, "the time")
    except Malformed as exc:
        raise ValueError(str(exc)) from None
    return at


# An aware time within the range every normalizer accepts (base.plausible).
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


class Person(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    login: str | None = None
    email: str | None = None
    name: str | None = None


class DeploymentPush(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["deployment"]
    id: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    sha: str = Field(min_length=4)
    status: Literal["in_progress", "success", "failure", "cancelled"]
    repository: str | None = None
    url: str | None = None
    started_at: Instant | None = None
    finished_at: Instant | None = None
    occurred_at: Instant
    deployed_by: Person | None = None


class IncidentPush(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["incident.opened", "incident.resolved"]
    id: str = Field(min_length=1)
    title: str
    url: str | None = None
    severity: str | None = None
    service: str | None = None
    deployment_sha: str | None = None
    opened_at: Instant
    resolved_at: Instant | None = None


GENERIC_PUSH: TypeAdapter[DeploymentPush | IncidentPush] = TypeAdapter(
    Annotated[DeploymentPush | IncidentPush, Field(discriminator="type")]
)


def _person(ctx: Context, person: Person | None) -> Actor | None:
    if person is None:
        return None
    return Actor(
        kind=KIND,
        account_id=person.id,
        login=person.login,
        email=person.email,
        display_name=person.name,
        is_bot=ctx.rules.is_bot(person.login, person.name, person.email),
    )


def normalize(ctx: Context, event: str | None, payload: dict[str, Any]) -> Normalized:
    if not isinstance(payload.get("type"), str):
        # said here: pydantic quotes a discriminator it cannot match, and the repr of one
        # nested a thousand deep fails inside it (printed to stderr as "Exception ignored")
        raise Malformed("type: must be deployment, incident.opened or incident.resolved")
    try:
        push = GENERIC_PUSH.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Malformed(f"{where}: {first['msg']}") from None
    source = SourceRef(kind=KIND, source_id=ctx.source_id, external_id=push.id, url=push.url)
    if isinstance(push, DeploymentPush):
        repo = (
            Repository(external_id=push.repository, full_name=push.repository)
            if push.repository
            else None
        )
        changed = DeploymentStatusChanged(
            source=source,
            repository=repo,
            environment=push.environment,
            is_production=ctx.rules.is_production(push.environment),
            sha=push.sha,
            status=push.status,
            started_at=push.started_at,
            finished_at=push.finished_at,
            deployed_by=_person(ctx, push.deployed_by),
            occurred_at=push.occurred_at,
        )
        version = f"{push.status}:{version_time(push.occurred_at)}"
        return Normalized([Fact(changed, f"deployment:{push.id}", version)])
    if push.type == "incident.opened":
        opened = IncidentOpened(
            source=source,
            title=push.title,
            severity=push.severity,
            service=push.service,
            deployment_sha=push.deployment_sha,
            opened_at=push.opened_at,
        )
        return Normalized([Fact(opened, f"incident:{push.id}", "opened")])
    if push.resolved_at is None:
        raise Malformed("resolved_at: an incident.resolved push needs it")
    resolved = IncidentResolved(
        source=source,
        title=push.title,
        severity=push.severity,
        service=push.service,
        opened_at=push.opened_at,
        resolved_at=push.resolved_at,
    )
    return Normalized([Fact(resolved, f"incident:{push.id}", "resolved")])

"""The DORA routes: the definitions in full, and the keys of a scope under one of them, with
the counts behind every number so a reader can check it (domain/dora.py does the sums)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sextant.insights.db import reads
from sextant.insights.domain import dora
from sextant.runtime.app import State
from sextant.runtime.errors import InvalidInput, problem_response
from sextant.runtime.paging import Moment
from sextant.runtime.scope import ScopeParam
from sextant.runtime.tabular import CSV_MEDIA_TYPE, csv_text, wants_csv
from sextant.runtime.tokens import Caller

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])

DefinitionId = Literal["dora-2021", "dora-2023", "dora-2024"]
BandName = Literal["elite", "high", "medium", "low"]
DEFAULT_RANGE = timedelta(days=28)
LONGEST_RANGE = timedelta(days=3 * 366)
HOURS = 3600.0
EXAMPLE_WORKSPACE = "0190f5c2-0000-7c3a-9d3e-1b2c3d4e5f60"


# the definitions --------------------------------------------------------------------------


class FrequencyBandView(BaseModel):
    band: BandName
    at_least_deployment_days: int = Field(description="median deployment days per bucket, ≥")
    bucket_days: int = Field(description="7 (a week), 28 (a month) or 182 (half a year)")


class UpperBandView(BaseModel):
    band: BandName
    below: float = Field(description="hours for durations, a fraction for rates")
    inclusive: bool = Field(description="true when the limit itself is in the band (≤)")


class DefinitionView(BaseModel):
    """One definition in full: every choice that moves a number."""

    id: DefinitionId
    version: int
    title: str
    aggregation: str
    deployment: str = Field(description="what counts as a deployment")
    deployment_frequency_unit: str
    lead_time: str
    attribution: str = Field(description="which deployment an incident belongs to")
    default_attribution_window_days: float
    change_failure_rate: str
    time_to_restore: str
    time_to_restore_measure: Literal["incident_opened", "deployment_succeeded"]
    rework_rate: str | None = Field(description="null when the definition has no rework rate")
    deployment_frequency_bands: list[FrequencyBandView] = Field(
        description="best first; low when none holds"
    )
    lead_time_bands: list[UpperBandView] = Field(description="hours; best first")
    change_failure_rate_bands: list[UpperBandView] = Field(description="fractions; best first")
    time_to_restore_bands: list[UpperBandView] = Field(description="hours; best first")


_DEFINITION_EXAMPLE: dict[str, Any] = {
    "id": "dora-2021",
    "version": 1,
    "title": "DORA 2021: time to restore from incident opened to resolved",
    "aggregation": "median and p85 (linear interpolation between closest ranks)",
    "deployment": "a successful production deployment, at the time it succeeded",
    "deployment_frequency_unit": "deployment days and deployments, per 7-day bucket",
    "lead_time": "first commit (else opening) to the production deployment that shipped it",
    "attribution": "the last deployment of the incident's service at or before it opened, "
    "within the window",
    "default_attribution_window_days": 7.0,
    "change_failure_rate": "deployments with an incident attributed / deployments",
    "time_to_restore": "incident opened to resolved, every incident opened in the range",
    "time_to_restore_measure": "incident_opened",
    "rework_rate": None,
    "deployment_frequency_bands": [
        {"band": "elite", "at_least_deployment_days": 5, "bucket_days": 7},
        {"band": "high", "at_least_deployment_days": 1, "bucket_days": 28},
        {"band": "medium", "at_least_deployment_days": 1, "bucket_days": 182},
    ],
    "lead_time_bands": [
        {"band": "elite", "below": 1.0, "inclusive": False},
        {"band": "high", "below": 168.0, "inclusive": False},
        {"band": "medium", "below": 4320.0, "inclusive": False},
    ],
    "change_failure_rate_bands": [
        {"band": "elite", "below": 0.15, "inclusive": True},
        {"band": "high", "below": 0.2, "inclusive": True},
        {"band": "medium", "below": 0.3, "inclusive": True},
    ],
    "time_to_restore_bands": [
        {"band": "elite", "below": 1.0, "inclusive": False},
        {"band": "high", "below": 24.0, "inclusive": False},
        {"band": "medium", "below": 168.0, "inclusive": False},
    ],
}


class DefinitionList(BaseModel):
    """Every definition, oldest first, and the one used when a call names none."""

    default: DefinitionId
    definitions: list[DefinitionView]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"default": "dora-2024", "definitions": [_DEFINITION_EXAMPLE]}]
        }
    )


def _upper(bands: tuple[dora.UpperBound, ...], scale: float) -> list[UpperBandView]:
    return [
        UpperBandView(band=b.band.value, below=b.limit / scale, inclusive=b.inclusive)
        for b in bands
    ]


def definition_view(definition: dora.Definition) -> DefinitionView:
    """The definition as the API states it (durations in hours)."""
    from_incident = definition.restore_measure is dora.RestoreMeasure.INCIDENT_OPENED
    return DefinitionView(
        id=definition.id,
        version=definition.version,
        title=definition.title,
        aggregation=definition.aggregation,
        deployment="a successful production deployment, at the time it succeeded",
        deployment_frequency_unit="deployment days and deployments, per 7-day bucket",
        lead_time="first commit (else opening) to the production deployment that shipped it",
        attribution="the last deployment of the incident's service at or before it opened, "
        "within the window",
        default_attribution_window_days=definition.attribution_window / timedelta(days=1),
        change_failure_rate="deployments with an incident attributed / deployments",
        time_to_restore=(
            "incident opened to resolved, every incident opened in the range"
            if from_incident
            else "attributed deployment to incident resolved, incidents attributed to a "
            "deployment in the range"
        ),
        time_to_restore_measure=definition.restore_measure.value,
        rework_rate=(
            "deployments that succeeded while a production incident of their service was "
            "open / deployments"
            if definition.rework_rate
            else None
        ),
        deployment_frequency_bands=[
            FrequencyBandView(
                band=b.band.value, at_least_deployment_days=b.at_least, bucket_days=b.bucket_days
            )
            for b in definition.deployment_frequency_bands
        ],
        lead_time_bands=_upper(definition.lead_time_bands, HOURS),
        change_failure_rate_bands=_upper(definition.change_failure_rate_bands, 1.0),
        time_to_restore_bands=_upper(definition.time_to_restore_bands, HOURS),
    )


@router.get(
    "/definitions",
    response_model=DefinitionList,
    summary="The DORA definitions Sextant computes, each in full",
    description="Every choice that moves a DORA number, per definition: aggregation, "
    "deployment-frequency unit, lead-time span, incident attribution and its default "
    "window, where time to restore starts, and the benchmark bands of its year.",
)
async def list_definitions(caller: Caller) -> DefinitionList:
    return DefinitionList(
        default=dora.DEFAULT_DEFINITION,
        definitions=[definition_view(d) for d in dora.DEFINITIONS.values()],
    )


# the keys ---------------------------------------------------------------------------------


class Duration(BaseModel):
    count: int = Field(description="how many durations the figures are taken over")
    median_hours: float | None
    p85_hours: float | None
    band: BandName | None = Field(description="of the median; null without data")


class DeploymentFrequencyView(BaseModel):
    deployments: int
    deployment_days: int = Field(description="distinct UTC dates with a deployment")
    weeks: int = Field(description="full 7-day buckets from since (one if the range is shorter)")
    median_deployment_days_per_week: float | None
    p85_deployment_days_per_week: float | None
    median_deployments_per_week: float | None
    p85_deployments_per_week: float | None
    band: BandName | None


class RateView(BaseModel):
    numerator: int
    denominator: int = Field(description="deployments in the range")
    rate: float | None = Field(description="numerator / denominator; null without deployments")
    band: BandName | None


class RestoreView(Duration):
    measure: Literal["incident_opened", "deployment_succeeded"] = Field(
        description="where the clock starts"
    )
    unresolved: int = Field(description="incidents in scope not resolved yet (not measured)")


class DoraReply(BaseModel):
    """The four keys (five under dora-2024) of a scope over a range, and what they rest on."""

    definition_id: DefinitionId
    definition_version: int
    scope: str
    since: datetime
    until: datetime
    attribution_window_days: float
    include_bots: bool = Field(description="whether bots' changes count in lead time")
    deployment_frequency: DeploymentFrequencyView
    lead_time: Duration = Field(description="count: changes shipped in the range")
    change_failure_rate: RateView = Field(description="numerator: deployments that failed")
    time_to_restore: RestoreView
    rework_rate: RateView | None = Field(
        description="dora-2024 only; numerator: deployments made while an incident was open"
    )
    incidents: int = Field(description="incidents opened in the range")
    incidents_attributed: int = Field(description="of those, attributed to a deployment")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "definition_id": "dora-2024",
                    "definition_version": 1,
                    "scope": f"workspace:{EXAMPLE_WORKSPACE}",
                    "since": "2026-03-02T00:00:00Z",
                    "until": "2026-03-16T00:00:00Z",
                    "attribution_window_days": 7.0,
                    "include_bots": False,
                    "deployment_frequency": {
                        "deployments": 5,
                        "deployment_days": 4,
                        "weeks": 2,
                        "median_deployment_days_per_week": 2.0,
                        "p85_deployment_days_per_week": 2.0,
                        "median_deployments_per_week": 2.5,
                        "p85_deployments_per_week": 2.85,
                        "band": "high",
                    },
                    "lead_time": {
                        "count": 4,
                        "median_hours": 24.0,
                        "p85_hours": 76.8,
                        "band": "high",
                    },
                    "change_failure_rate": {
                        "numerator": 2,
                        "denominator": 5,
                        "rate": 0.4,
                        "band": "low",
                    },
                    "time_to_restore": {
                        "count": 2,
                        "median_hours": 16.75,
                        "p85_hours": 24.625,
                        "band": "high",
                        "measure": "deployment_succeeded",
                        "unresolved": 0,
                    },
                    "rework_rate": {"numerator": 1, "denominator": 5, "rate": 0.2, "band": None},
                    "incidents": 5,
                    "incidents_attributed": 3,
                }
            ]
        }
    )


class DoraRow(BaseModel):
    """One key as a CSV row."""

    metric: str
    definition_id: str
    count: int | None
    median: float | None
    p85: float | None
    numerator: int | None
    denominator: int | None
    rate: float | None
    unit: str
    band: str | None


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / HOURS


def _band(band: dora.Band | None) -> BandName | None:
    return None if band is None else band.value


def _duration(d: dora.Distribution) -> Duration:
    return Duration(
        count=d.count,
        median_hours=_hours(d.median_seconds),
        p85_hours=_hours(d.p85_seconds),
        band=_band(d.band),
    )


def _rate(r: dora.Rate) -> RateView:
    return RateView(
        numerator=r.numerator, denominator=r.denominator, rate=r.value, band=_band(r.band)
    )


def metric_range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """A metric call's ``[since, until)``: by default the 28 days before now; refused
    (400, naming ``since``) when empty or longer than three years."""
    end = until or datetime.now(UTC)
    start = since or dora.earlier(end, DEFAULT_RANGE)
    if start >= end:
        raise InvalidInput("since must be before until", parameter="since")
    if end - start > LONGEST_RANGE:
        raise InvalidInput("the range can be at most three years", parameter="since")
    return start, end


def reply_of(report: dora.DoraReport, scope: str, include_bots: bool) -> DoraReply:
    frequency = report.deployment_frequency
    restore = report.time_to_restore
    return DoraReply(
        definition_id=report.definition_id,
        definition_version=report.definition_version,
        scope=scope,
        since=report.since,
        until=report.until,
        attribution_window_days=report.attribution_window / timedelta(days=1),
        include_bots=include_bots,
        deployment_frequency=DeploymentFrequencyView(
            deployments=frequency.deployments,
            deployment_days=frequency.deployment_days,
            weeks=frequency.weeks,
            median_deployment_days_per_week=frequency.median_deployment_days_per_week,
            p85_deployment_days_per_week=frequency.p85_deployment_days_per_week,
            median_deployments_per_week=frequency.median_deployments_per_week,
            p85_deployments_per_week=frequency.p85_deployments_per_week,
            band=_band(frequency.band),
        ),
        lead_time=_duration(report.lead_time),
        change_failure_rate=_rate(report.change_failure_rate),
        time_to_restore=RestoreView(
            **_duration(restore.distribution).model_dump(),
            measure=restore.measure.value,
            unresolved=restore.unresolved,
        ),
        rework_rate=None if report.rework_rate is None else _rate(report.rework_rate),
        incidents=report.incidents,
        incidents_attributed=report.incidents_attributed,
    )


def rows_of(reply: DoraReply) -> list[DoraRow]:
    """The reply as one row per key, for a spreadsheet."""
    frequency = reply.deployment_frequency
    definition = reply.definition_id

    def duration(metric: str, d: Duration) -> DoraRow:
        return DoraRow(
            metric=metric,
            definition_id=definition,
            count=d.count,
            median=d.median_hours,
            p85=d.p85_hours,
            numerator=None,
            denominator=None,
            rate=None,
            unit="hours",
            band=d.band,
        )

    def rate(metric: str, r: RateView) -> DoraRow:
        return DoraRow(
            metric=metric,
            definition_id=definition,
            count=None,
            median=None,
            p85=None,
            numerator=r.numerator,
            denominator=r.denominator,
            rate=r.rate,
            unit="fraction",
            band=r.band,
        )

    rows = [
        DoraRow(
            metric="deployment_frequency",
            definition_id=definition,
            count=frequency.deployments,
            median=frequency.median_deployment_days_per_week,
            p85=frequency.p85_deployment_days_per_week,
            numerator=frequency.deployment_days,
            denominator=frequency.weeks,
            rate=None,
            unit="deployment days per week",
            band=frequency.band,
        ),
        duration("lead_time", reply.lead_time),
        rate("change_failure_rate", reply.change_failure_rate),
        duration("time_to_restore", reply.time_to_restore),
    ]
    if reply.rework_rate is not None:
        rows.append(rate("rework_rate", reply.rework_rate))
    return rows


DORA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "metric,definition_id,count,median,p85,numerator,denominator,rate,"
                "unit,band\nlead_time,dora-2024,4,24.0,76.8,,,,hours,high\n",
            }
        },
        "description": "The keys as JSON, or one CSV row per key when Accept prefers text/csv.",
    },
    400: problem_response(
        "a bad scope, since not before until, or a range longer than three years"
    ),
    422: problem_response("a parameter of the wrong type or out of range (named in the detail)"),
}


@router.get(
    "/dora",
    response_model=DoraReply,
    summary="DORA keys of a scope under a named definition",
    description="Deployment frequency (days and counts), lead time for changes, change "
    "failure rate, time to restore (median and P85) and, under dora-2024, deployment "
    "rework rate, over [since, until), with the band of each and the counts behind it. "
    "GET /v1/metrics/definitions states each definition. Accept: text/csv for one row "
    "per key.",
    responses=DORA_RESPONSES,
)
async def get_dora(
    request: Request,
    caller: Caller,
    state: State,
    scope: ScopeParam,
    definition: Annotated[
        DefinitionId, Query(description="which definition to compute the keys under")
    ] = "dora-2024",
    since: Annotated[
        Moment | None,
        Query(
            description="start of the range, included (ISO 8601 with an offset); "
            "default: 28 days before until"
        ),
    ] = None,
    until: Annotated[
        Moment | None,
        Query(description="end of the range, excluded (ISO 8601 with an offset); default: now"),
    ] = None,
    attribution_window_days: Annotated[
        float | None,
        Query(
            ge=0,
            le=90,
            description="how long after a deployment an incident can still be attributed "
            "to it, in days (default: the definition's, 7)",
        ),
    ] = None,
    include_bots: Annotated[
        bool, Query(description="count changes authored by bots in lead time (left out by default)")
    ] = False,
) -> BaseModel | Response:
    tenant = caller.tenant("metrics are per tenant")
    chosen = dora.DEFINITIONS[definition]
    start, end = metric_range(since, until)
    window = (
        chosen.attribution_window
        if attribution_window_days is None
        else timedelta(days=attribution_window_days)
    )
    async with state.db.snapshot_transaction(tenant) as session:
        summed = await reads.dora_tally(
            session, tenant, scope.workspaces, start, end, window, chosen, include_bots
        )
    report = dora.report(chosen, summed, since=start, until=end, attribution_window=window)
    reply = reply_of(report, scope.text, include_bots)
    if wants_csv(request.headers.get("accept")):
        return Response(csv_text(rows_of(reply), DoraRow), media_type=CSV_MEDIA_TYPE)
    return reply

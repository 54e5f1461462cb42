"""DORA's four (2024: five) keys under an explicit, versioned definition.

The anchors disagree on every choice that moves the numbers (mean or median, deployment days
or counts, which deployment an incident belongs to, whose band table), so each choice is
fixed by a named definition and every result says which one produced it, over which window,
from which counts. Pure: the callers read the projections and pass plain values in.

Shared by every definition:

- A **deployment** is a successful production deployment; its time is when it succeeded.
  Those in ``[since, until)`` are counted.
- **Deployment frequency** is given both as deployment days (distinct UTC dates with one or
  more deployments) and as deployment counts, in total and per week (median and P85 over
  the 7-day buckets from ``since``). Bands compare the median number of deployment days
  per bucket of the band's length (a week, a month of 4 weeks, half a year of 26 weeks).
  A trailing partial bucket is left out of the medians unless it is the only bucket.
- **Lead time for changes** is, per counted change deployed in the window, the time from
  its first commit (its opening when no commit is known) to the production deployment that
  shipped it. Changes a first deployment inherited are not counted.
- **Attribution**: an incident belongs to the last deployment of the same service that
  succeeded at or before the incident opened, if it succeeded within the attribution
  window (default 7 days) before it; otherwise to none.
- **Change failure rate** = deployments in the window with one or more incidents
  attributed ÷ deployments in the window (deployments, not incidents, are counted).
- Aggregation is the median and the 85th percentile, both by linear interpolation between
  the closest ranks (the median of an even count is the mean of the middle two).

Where they differ: ``dora-2021`` measures time to restore from the incident's opening to its
resolution, for every incident opened in the window; ``dora-2023`` and ``dora-2024``
measure failed deployment recovery time, from the attributed deployment to the
resolution, for incidents attributed to a deployment in the window. The band tables are
each year's; ``dora-2024`` keeps 2023's (its report's clusters are not ordered on change
failure rate, so they cannot classify) and adds deployment rework rate, which has no band.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

DEFAULT_ATTRIBUTION_WINDOW = timedelta(days=7)
WEEK_DAYS = 7
MONTH_DAYS = 28
HALF_YEAR_DAYS = 182


class Band(StrEnum):
    """A benchmark cluster, best first."""

    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RestoreMeasure(StrEnum):
    """Where the restore clock starts."""

    INCIDENT_OPENED = "incident_opened"
    DEPLOYMENT_SUCCEEDED = "deployment_succeeded"


@dataclass(frozen=True)
class FrequencyBand:
    """``band`` when the median deployment days per ``bucket_days`` bucket is ≥ ``at_least``."""

    band: Band
    bucket_days: int
    at_least: int


@dataclass(frozen=True)
class UpperBound:
    """``band`` when the value is below (or, if ``inclusive``, at most) ``limit``."""

    band: Band
    limit: float
    inclusive: bool = False


@dataclass(frozen=True)
class Definition:
    """One definition of the keys: every choice that moves a number, named and versioned."""

    id: str
    version: int
    title: str
    restore_measure: RestoreMeasure
    deployment_frequency_bands: tuple[FrequencyBand, ...]
    lead_time_bands: tuple[UpperBound, ...]
    """Limits in seconds."""
    change_failure_rate_bands: tuple[UpperBound, ...]
    """Limits as fractions."""
    time_to_restore_bands: tuple[UpperBound, ...]
    """Limits in seconds."""
    rework_rate: bool
    attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW
    aggregation: str = "median and p85 (linear interpolation between closest ranks)"


_HOUR = 3600.0
_DAY = 24 * _HOUR
_RESTORE_BANDS = (
    UpperBound(Band.ELITE, _HOUR),
    UpperBound(Band.HIGH, _DAY),
    UpperBound(Band.MEDIUM, 7 * _DAY),
)
DORA_2021 = Definition(
    id="dora-2021",
    version=1,
    title="DORA 2021: time to restore from incident opened to resolved",
    restore_measure=RestoreMeasure.INCIDENT_OPENED,
    deployment_frequency_bands=(
        FrequencyBand(Band.ELITE, WEEK_DAYS, 5),
        FrequencyBand(Band.HIGH, MONTH_DAYS, 1),
        FrequencyBand(Band.MEDIUM, HALF_YEAR_DAYS, 1),
    ),
    lead_time_bands=(
        UpperBound(Band.ELITE, _HOUR),
        UpperBound(Band.HIGH, 7 * _DAY),
        UpperBound(Band.MEDIUM, 180 * _DAY),
    ),
    change_failure_rate_bands=(
        UpperBound(Band.ELITE, 0.15, inclusive=True),
        UpperBound(Band.HIGH, 0.20, inclusive=True),
        UpperBound(Band.MEDIUM, 0.30, inclusive=True),
    ),
    time_to_restore_bands=_RESTORE_BANDS,
    rework_rate=False,
)
DORA_2023 = Definition(
    id="dora-2023",
    version=1,
    title="DORA 2023: failed deployment recovery time from the attributed deployment",
    restore_measure=RestoreMeasure.DEPLOYMENT_SUCCEEDED,
    deployment_frequency_bands=(
        FrequencyBand(Band.ELITE, WEEK_DAYS, 5),
        FrequencyBand(Band.HIGH, WEEK_DAYS, 1),
        FrequencyBand(Band.MEDIUM, MONTH_DAYS, 1),
    ),
    lead_time_bands=(
        UpperBound(Band.ELITE, _DAY),
        UpperBound(Band.HIGH, 7 * _DAY),
        UpperBound(Band.MEDIUM, 30 * _DAY),
    ),
    change_failure_rate_bands=(
        UpperBound(Band.ELITE, 0.05, inclusive=True),
        UpperBound(Band.HIGH, 0.10, inclusive=True),
        UpperBound(Band.MEDIUM, 0.15, inclusive=True),
    ),
    time_to_restore_bands=_RESTORE_BANDS,
    rework_rate=False,
)
DORA_2024 = replace(
    DORA_2023,
    id="dora-2024",
    title="DORA 2024: the 2023 keys plus deployment rework rate",
    rework_rate=True,
)
DEFINITIONS: dict[str, Definition] = {d.id: d for d in (DORA_2021, DORA_2023, DORA_2024)}
DEFAULT_DEFINITION = DORA_2024.id


# inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """A successful production deployment of ``service`` (its repository)."""

    id: UUID
    service: str
    succeeded_at: datetime


@dataclass(frozen=True)
class Change:
    """A change a production deployment shipped and counted (inherited ones are left out)."""

    id: UUID
    opened_at: datetime
    first_commit_at: datetime | None
    deployed_at: datetime


@dataclass(frozen=True)
class Incident:
    """A production incident of ``service``."""

    id: UUID
    service: str
    opened_at: datetime
    resolved_at: datetime | None


# outputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Median and P85 of ``count`` durations in seconds (None when there are none)."""

    count: int
    median_seconds: float | None
    p85_seconds: float | None
    band: Band | None


@dataclass(frozen=True)
class Rate:
    """``numerator`` ÷ ``denominator`` (None when nothing was counted)."""

    numerator: int
    denominator: int
    value: float | None
    band: Band | None


@dataclass(frozen=True)
class DeploymentFrequency:
    """Deployment days and counts, in total and per 7-day bucket."""

    deployments: int
    deployment_days: int
    weeks: int
    median_deployment_days_per_week: float | None
    p85_deployment_days_per_week: float | None
    median_deployments_per_week: float | None
    p85_deployments_per_week: float | None
    band: Band | None


@dataclass(frozen=True)
class TimeToRestore:
    """Restore durations; ``unresolved`` incidents in scope are counted but not measured."""

    measure: RestoreMeasure
    unresolved: int
    distribution: Distribution


@dataclass(frozen=True)
class DoraReport:
    """The keys over ``[since, until)`` under one definition, with the counts behind them."""

    definition_id: str
    definition_version: int
    since: datetime
    until: datetime
    attribution_window: timedelta
    deployment_frequency: DeploymentFrequency
    lead_time: Distribution
    change_failure_rate: Rate
    time_to_restore: TimeToRestore
    rework_rate: Rate | None
    incidents: int
    incidents_attributed: int


# arithmetic ----------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile by linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _distribution(seconds: Sequence[float], bands: Sequence[UpperBound]) -> Distribution:
    median = percentile(seconds, 0.5)
    return Distribution(
        count=len(seconds),
        median_seconds=median,
        p85_seconds=percentile(seconds, 0.85),
        band=band_of(median, bands),
    )


def band_of(value: float | None, bands: Sequence[UpperBound]) -> Band | None:
    """The first band ``value`` is within, low past them all; None without a value or a
    table."""
    if value is None or not bands:
        return None
    for bound in bands:
        if value < bound.limit or (bound.inclusive and value == bound.limit):
            return bound.band
    return Band.LOW


def _rate(numerator: int, denominator: int, bands: Sequence[UpperBound]) -> Rate:
    value = numerator / denominator if denominator else None
    return Rate(numerator, denominator, value, band_of(value, bands))


def bucket_counts(
    times: Sequence[datetime], since: datetime, until: datetime, bucket_days: int
) -> tuple[list[int], list[int]]:
    """Deployment days and deployments per ``bucket_days`` bucket from ``since``; a trailing
    partial bucket is dropped unless it is the only one."""
    span = until - since
    full = span // timedelta(days=bucket_days)
    buckets = max(full, 1)
    days: list[set[date]] = [set() for _ in range(buckets)]
    counts = [0] * buckets
    for at in times:
        index = (at - since) // timedelta(days=bucket_days)
        if index < buckets:
            counts[index] += 1
            days[index].add(at.astimezone(UTC).date())
    return [len(d) for d in days], counts


def _frequency(
    times: Sequence[datetime], since: datetime, until: datetime, definition: Definition
) -> DeploymentFrequency:
    week_days, week_counts = bucket_counts(times, since, until, WEEK_DAYS)
    band: Band | None = None
    if times:
        band = Band.LOW
        for rule in definition.deployment_frequency_bands:
            per_bucket, _ = bucket_counts(times, since, until, rule.bucket_days)
            median = percentile(per_bucket, 0.5)
            if median is not None and median >= rule.at_least:
                band = rule.band
                break
    return DeploymentFrequency(
        deployments=len(times),
        deployment_days=len({at.astimezone(UTC).date() for at in times}),
        weeks=len(week_days),
        median_deployment_days_per_week=percentile(week_days, 0.5),
        p85_deployment_days_per_week=percentile(week_days, 0.85),
        median_deployments_per_week=percentile(week_counts, 0.5),
        p85_deployments_per_week=percentile(week_counts, 0.85),
        band=band,
    )


# the rules -----------------------------------------------------------------------------


def attribute(
    incidents: Sequence[Incident],
    deployments: Sequence[Deployment],
    window: timedelta = DEFAULT_ATTRIBUTION_WINDOW,
) -> dict[UUID, Deployment]:
    """Each incident's deployment: the last of its service that succeeded at or before it
    opened, no more than ``window`` before (ties: the greatest id). Others are left out.
    Found by bisection in each service's deployments in time order: a view's year is
    thousands of each, and a scan per incident made the call take seconds."""
    by_service: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in deployments:
        by_service[deployment.service].append(deployment)
    times: dict[str, list[datetime]] = {}
    for service, ordered in by_service.items():
        ordered.sort(key=lambda d: (d.succeeded_at, d.id))
        times[service] = [d.succeeded_at for d in ordered]
    caused: dict[UUID, Deployment] = {}
    for incident in incidents:
        before = bisect_right(times.get(incident.service, []), incident.opened_at)
        if before:
            last = by_service[incident.service][before - 1]
            if incident.opened_at - last.succeeded_at <= window:
                caused[incident.id] = last
    return caused


def rework_of(incidents: Sequence[Incident]) -> Callable[[Deployment], bool]:
    """Whether a deployment was unplanned, made to fix a production incident: it succeeded
    while an incident of its service was open (after it opened, at or before it was
    resolved). Per service, the incidents in opening order with the latest resolution so
    far, so each deployment is one bisection, not a scan of the incidents."""
    opened: dict[str, list[datetime]] = defaultdict(list)
    open_until: dict[str, list[datetime]] = defaultdict(list)  # the latest end so far
    for incident in sorted(incidents, key=lambda i: i.opened_at):
        until = incident.resolved_at or datetime.max.replace(tzinfo=UTC)
        ends = open_until[incident.service]
        opened[incident.service].append(incident.opened_at)
        ends.append(max(until, ends[-1]) if ends else until)

    def is_rework(deployment: Deployment) -> bool:
        before = bisect_left(opened.get(deployment.service, []), deployment.succeeded_at)
        return before > 0 and deployment.succeeded_at <= open_until[deployment.service][before - 1]

    return is_rework


def compute(
    definition: Definition,
    *,
    deployments: Sequence[Deployment],
    changes: Sequence[Change],
    incidents: Sequence[Incident],
    since: datetime,
    until: datetime,
    attribution_window: timedelta | None = None,
) -> DoraReport:
    """The keys over ``[since, until)``. ``deployments`` may include earlier ones (an
    incident early in the window can belong to one); only those in the window are counted.
    ``incidents`` are those opened in the window."""
    if since >= until:
        raise ValueError("since must be before until")
    window = definition.attribution_window if attribution_window is None else attribution_window
    if window < timedelta(0):
        raise ValueError("the attribution window cannot be negative")

    def in_window(at: datetime) -> bool:
        return since <= at < until

    counted = [d for d in deployments if in_window(d.succeeded_at)]
    counted_ids = {d.id for d in counted}
    scoped_incidents = [i for i in incidents if in_window(i.opened_at)]
    caused = attribute(scoped_incidents, deployments, window)
    failed = {d.id for d in caused.values()} & counted_ids

    lead_times = [
        (c.deployed_at - (c.first_commit_at or c.opened_at)).total_seconds()
        for c in changes
        if in_window(c.deployed_at)
    ]

    if definition.restore_measure is RestoreMeasure.INCIDENT_OPENED:
        restoring = [(i, i.opened_at) for i in scoped_incidents]
    else:
        restoring = [
            (i, caused[i.id].succeeded_at)
            for i in scoped_incidents
            if i.id in caused and caused[i.id].id in counted_ids
        ]
    restored = [
        (i.resolved_at - start).total_seconds()
        for i, start in restoring
        if i.resolved_at is not None
    ]

    rework: Rate | None = None
    if definition.rework_rate:
        production_incidents = [i for i in incidents if i.id in caused]
        is_rework = rework_of(production_incidents)
        fixes = sum(1 for d in counted if is_rework(d))
        rework = _rate(fixes, len(counted), ())

    return DoraReport(
        definition_id=definition.id,
        definition_version=definition.version,
        since=since,
        until=until,
        attribution_window=window,
        deployment_frequency=_frequency(
            [d.succeeded_at for d in counted], since, until, definition
        ),
        lead_time=_distribution(lead_times, definition.lead_time_bands),
        change_failure_rate=_rate(len(failed), len(counted), definition.change_failure_rate_bands),
        time_to_restore=TimeToRestore(
            measure=definition.restore_measure,
            unresolved=len(restoring) - len(restored),
            distribution=_distribution(restored, definition.time_to_restore_bands),
        ),
        rework_rate=rework,
        incidents=len(scoped_incidents),
        incidents_attributed=len(caused),
    )

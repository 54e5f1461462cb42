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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from sextant.runtime.paging import EARLIEST

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

    def __post_init__(self) -> None:
        if self.bucket_days % WEEK_DAYS:
            raise ValueError("a frequency band's bucket is whole weeks (counted from weeks)")


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


@dataclass(frozen=True)
class DeploymentDay:
    """The deployments counted on one UTC date within one 7-day bucket from ``since`` (a
    date can straddle two buckets): deployment frequency needs no more than these."""

    week: int
    day: date
    deployments: int


@dataclass(frozen=True)
class Spread:
    """How many durations (seconds) and their median and P85, as :func:`percentile` takes
    them (PostgreSQL's ``percentile_cont`` is the same rule)."""

    count: int
    median: float | None
    p85: float | None


@dataclass(frozen=True)
class Tally:
    """What the keys are computed from once the deployments and changes are summed: the
    reads can sum in the database what the literal rules sum in Python."""

    deployment_days: Sequence[DeploymentDay]
    lead_time: Spread
    incidents: Sequence[Incident]
    """Opened in the range."""
    caused: Mapping[UUID, Deployment]
    """Each attributed incident's deployment (:func:`attribute`)."""
    rework: int
    """Deployments counted that succeeded while an attributed incident of their service was
    open (:func:`rework_of`); 0 when the definition has no rework rate."""


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
    return _buckets(deployment_days(times, since), since, until, bucket_days)


def deployment_days(times: Sequence[datetime], since: datetime) -> list[DeploymentDay]:
    """``times`` (at or after ``since``) summed per 7-day bucket from ``since`` and UTC date."""
    summed: dict[tuple[int, date], int] = defaultdict(int)
    for at in times:
        summed[(at - since) // timedelta(days=WEEK_DAYS), at.astimezone(UTC).date()] += 1
    return [DeploymentDay(week, day, n) for (week, day), n in sorted(summed.items())]


def _buckets(
    days: Sequence[DeploymentDay], since: datetime, until: datetime, bucket_days: int
) -> tuple[list[int], list[int]]:
    """Per ``bucket_days`` bucket (whole weeks, so a week's bucket is its index divided by
    the weeks per bucket): deployment days and deployments."""
    per_bucket = bucket_days // WEEK_DAYS
    buckets = max((until - since) // timedelta(days=bucket_days), 1)
    dates: list[set[date]] = [set() for _ in range(buckets)]
    counts = [0] * buckets
    for summed in days:
        index = summed.week // per_bucket
        if index < buckets:
            counts[index] += summed.deployments
            dates[index].add(summed.day)
    return [len(d) for d in dates], counts


def _frequency(
    days: Sequence[DeploymentDay], since: datetime, until: datetime, definition: Definition
) -> DeploymentFrequency:
    week_days, week_counts = _buckets(days, since, until, WEEK_DAYS)
    band: Band | None = None
    if days:
        band = Band.LOW
        for rule in definition.deployment_frequency_bands:
            per_bucket, _ = _buckets(days, since, until, rule.bucket_days)
            median = percentile(per_bucket, 0.5)
            if median is not None and median >= rule.at_least:
                band = rule.band
                break
    return DeploymentFrequency(
        deployments=sum(d.deployments for d in days),
        deployment_days=len({d.day for d in days}),
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


def service_of(workspace: UUID, name: str | None) -> str | None:
    """Deployments and incidents meet on the workspace and the service's short name: a
    repository ``octo-org/api`` and an incident of service ``api`` are the same service.
    None without a name."""
    if not name:
        return None
    return f"{workspace}:{name.rsplit('/', 1)[-1].strip().lower()}"


def service_key(workspace: UUID, name: str | None, fallback: UUID) -> str:
    """:func:`service_of`, and without a name the record is its own service (it meets
    nothing)."""
    return service_of(workspace, name) or f"unnamed:{fallback}"


def earlier(moment: datetime, by: timedelta) -> datetime:
    """``moment - by``, no earlier than the first storable moment (no overflow)."""
    return moment - by if moment - EARLIEST > by else EARLIEST


def latest_of_service(
    incidents: Sequence[Incident], candidates: Mapping[UUID, Sequence[Deployment]]
) -> dict[UUID, Deployment]:
    """:func:`attribute` when the database has already found, per incident, the last
    deployment of each repository of its workspace within the window: the incident's is
    the latest of those of its service (ties: the greatest id)."""
    caused: dict[UUID, Deployment] = {}
    for incident in incidents:
        mine = [d for d in candidates.get(incident.id, ()) if d.service == incident.service]
        if mine:
            caused[incident.id] = max(mine, key=lambda d: (d.succeeded_at, d.id))
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


def open_spans(
    incidents: Sequence[Incident], caused: Mapping[UUID, Deployment]
) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """Per service, when an attributed incident of it was open, as disjoint spans
    ``(opened, resolved]`` in time order (``None``: still open). A deployment is rework
    (:func:`rework_of`) when it falls in one of its service's spans, so the database can
    count them span by span without counting one twice."""
    spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for incident in sorted((i for i in incidents if i.id in caused), key=lambda i: i.opened_at):
        start, end = incident.opened_at, incident.resolved_at
        if end is not None and end <= start:
            continue  # (opened, resolved] holds no moment
        merged = spans[incident.service]
        last = merged[-1] if merged else None
        if last is not None and (last[1] is None or start <= last[1]):
            merged[-1] = (last[0], None if end is None or last[1] is None else max(last[1], end))
        else:
            merged.append((start, end))
    return dict(spans)


def tally(
    definition: Definition,
    *,
    deployments: Sequence[Deployment],
    changes: Sequence[Change],
    incidents: Sequence[Incident],
    since: datetime,
    until: datetime,
    window: timedelta,
) -> Tally:
    """The rules read literally over every deployment and change (the reference the reads'
    sums in the database are tested against)."""

    def in_window(at: datetime) -> bool:
        return since <= at < until

    counted = [d for d in deployments if in_window(d.succeeded_at)]
    scoped_incidents = [i for i in incidents if in_window(i.opened_at)]
    caused = attribute(scoped_incidents, deployments, window)
    lead_times = [
        (c.deployed_at - (c.first_commit_at or c.opened_at)).total_seconds()
        for c in changes
        if in_window(c.deployed_at)
    ]
    rework = 0
    if definition.rework_rate:
        is_rework = rework_of([i for i in incidents if i.id in caused])
        rework = sum(1 for d in counted if is_rework(d))
    return Tally(
        deployment_days=deployment_days([d.succeeded_at for d in counted], since),
        lead_time=Spread(
            len(lead_times), percentile(lead_times, 0.5), percentile(lead_times, 0.85)
        ),
        incidents=scoped_incidents,
        caused=caused,
        rework=rework,
    )


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
    window = _window(definition, since, until, attribution_window)
    summed = tally(
        definition,
        deployments=deployments,
        changes=changes,
        incidents=incidents,
        since=since,
        until=until,
        window=window,
    )
    return report(definition, summed, since=since, until=until, attribution_window=window)


def _window(
    definition: Definition, since: datetime, until: datetime, attribution_window: timedelta | None
) -> timedelta:
    if since >= until:
        raise ValueError("since must be before until")
    window = definition.attribution_window if attribution_window is None else attribution_window
    if window < timedelta(0):
        raise ValueError("the attribution window cannot be negative")
    return window


def report(
    definition: Definition,
    summed: Tally,
    *,
    since: datetime,
    until: datetime,
    attribution_window: timedelta | None = None,
) -> DoraReport:
    """The keys over ``[since, until)`` from their tally, however it was summed."""
    window = _window(definition, since, until, attribution_window)
    caused = summed.caused
    counted = sum(d.deployments for d in summed.deployment_days)
    counted_caused = {d.id: d for d in caused.values() if since <= d.succeeded_at < until}

    if definition.restore_measure is RestoreMeasure.INCIDENT_OPENED:
        restoring = [(i, i.opened_at) for i in summed.incidents]
    else:
        restoring = [
            (i, caused[i.id].succeeded_at)
            for i in summed.incidents
            if i.id in caused and caused[i.id].id in counted_caused
        ]
    restored = [
        (i.resolved_at - start).total_seconds()
        for i, start in restoring
        if i.resolved_at is not None
    ]
    lead_time = summed.lead_time
    return DoraReport(
        definition_id=definition.id,
        definition_version=definition.version,
        since=since,
        until=until,
        attribution_window=window,
        deployment_frequency=_frequency(summed.deployment_days, since, until, definition),
        lead_time=Distribution(
            count=lead_time.count,
            median_seconds=lead_time.median,
            p85_seconds=lead_time.p85,
            band=band_of(lead_time.median, definition.lead_time_bands),
        ),
        change_failure_rate=_rate(
            len(counted_caused), counted, definition.change_failure_rate_bands
        ),
        time_to_restore=TimeToRestore(
            measure=definition.restore_measure,
            unresolved=len(restoring) - len(restored),
            distribution=_distribution(restored, definition.time_to_restore_bands),
        ),
        rework_rate=_rate(summed.rework, counted, ()) if definition.rework_rate else None,
        incidents=len(summed.incidents),
        incidents_attributed=len(caused),
    )

"""The DORA definitions on histories worked by hand; every expected number is derived in the
comments, never by calling the code.

The shared history: two full weeks from Monday 2 March 2026 (UTC), service ``api``.

    D0  Fri 27 Feb 10:00   (before the window)
    D1  Mon  2 Mar 10:00   ships C1 (first commit Sun 1 Mar 10:00: 24 h)
    D2  Mon  2 Mar 15:00   ships C2 (first commit Mon 2 Mar 12:00: 3 h) — while I1 is open
    D3  Wed  4 Mar 10:00   ships C3 (no commit known, opened Tue 3 Mar 10:00: 24 h)
    D4  Tue 10 Mar 10:00   ships C4 (first commit Thu 5 Mar 10:00: 120 h)
    D5  Thu 12 Mar 10:00

    I1  api  Mon  2 Mar 11:00 → 15:30   last deployment before: D1 (1 h before)
    I2  api  Mon  2 Mar 08:00 → 09:00   last deployment before: D0 (2 d 22 h, within 7 d)
    I3  api  Wed 11 Mar 10:00 → 14:00   last deployment before: D4 (24 h before)
    I4  web  Thu  5 Mar 10:00 → 12:00   no web deployment: not attributed
    I5  web  Thu 12 Mar 12:00, open     not attributed
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sextant.insights.domain.dora import (
    DEFINITIONS,
    DORA_2021,
    DORA_2023,
    DORA_2024,
    Band,
    Change,
    Deployment,
    Incident,
    RestoreMeasure,
    attribute,
    band_of,
    compute,
    percentile,
    rework_of,
)

HOUR = 3600.0
SINCE = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=14)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


D0, D1, D2, D3, D4, D5 = (
    Deployment(UUID(int=10 + n), "api", when)
    for n, when in enumerate(
        [at(27, 10, month=2), at(2, 10), at(2, 15), at(4, 10), at(10, 10), at(12, 10)]
    )
)
DEPLOYMENTS = [D0, D1, D2, D3, D4, D5]
CHANGES = [
    Change(UUID(int=20), opened_at=at(1, 12), first_commit_at=at(1, 10), deployed_at=at(2, 10)),
    Change(UUID(int=21), opened_at=at(2, 13), first_commit_at=at(2, 12), deployed_at=at(2, 15)),
    Change(UUID(int=22), opened_at=at(3, 10), first_commit_at=None, deployed_at=at(4, 10)),
    Change(UUID(int=23), opened_at=at(6, 10), first_commit_at=at(5, 10), deployed_at=at(10, 10)),
    # shipped by D0, before the window: not counted
    Change(
        UUID(int=24),
        opened_at=at(26, 9, month=2),
        first_commit_at=None,
        deployed_at=D0.succeeded_at,
    ),
]
I1 = Incident(UUID(int=31), "api", at(2, 11), at(2, 15, 30))
I2 = Incident(UUID(int=32), "api", at(2, 8), at(2, 9))
I3 = Incident(UUID(int=33), "api", at(11, 10), at(11, 14))
I4 = Incident(UUID(int=34), "web", at(5, 10), at(5, 12))
I5 = Incident(UUID(int=35), "web", at(12, 12), None)
INCIDENTS = [I1, I2, I3, I4, I5]


def report(definition=DORA_2024, **overrides):  # type: ignore[no-untyped-def]
    args = {
        "deployments": DEPLOYMENTS,
        "changes": CHANGES,
        "incidents": INCIDENTS,
        "since": SINCE,
        "until": UNTIL,
    } | overrides
    return compute(definition, **args)


def test_percentiles_interpolate_between_closest_ranks() -> None:
    # [3, 24, 24, 120]: median (24 + 24) / 2; p85 at rank 3 * 0.85 = 2.55 → 24 + 0.55 * 96
    assert percentile([120, 3, 24, 24], 0.5) == 24
    assert percentile([120, 3, 24, 24], 0.85) == pytest.approx(76.8)
    assert percentile([], 0.5) is None
    assert percentile([7], 0.85) == 7


def test_attribution_takes_the_last_deployment_of_the_service_within_the_window() -> None:
    caused = attribute(INCIDENTS, DEPLOYMENTS)
    assert caused == {I1.id: D1, I2.id: D0, I3.id: D4}


def test_the_attribution_window_is_configurable() -> None:
    # I3 opened 24 h after D4: a 23 h window leaves it out, a 24 h one keeps it (bounds in)
    assert I3.id not in attribute([I3], DEPLOYMENTS, timedelta(hours=23))
    assert attribute([I3], DEPLOYMENTS, timedelta(hours=24)) == {I3.id: D4}
    # I2 opened 70 h after D0: out with a 2-day window, and no other deployment came before
    assert attribute([I2], DEPLOYMENTS, timedelta(days=2)) == {}


def test_deployment_frequency_in_days_and_counts() -> None:
    frequency = report().deployment_frequency
    # D1..D5 in the window (D0 is before it); days: 2, 4, 10, 12 March
    assert (frequency.deployments, frequency.deployment_days, frequency.weeks) == (5, 4, 2)
    # week 1: days {2, 4}, 3 deployments; week 2: days {10, 12}, 2 deployments
    assert frequency.median_deployment_days_per_week == 2
    assert frequency.p85_deployment_days_per_week == 2
    assert frequency.median_deployments_per_week == 2.5
    assert frequency.p85_deployments_per_week == pytest.approx(2.85)  # 2 + 0.85 * 1
    # median 2 deployment days a week: not 5 (elite), at least 1 (high)
    assert frequency.band is Band.HIGH


def test_lead_time_median_and_p85() -> None:
    lead = report().lead_time
    # C1 24 h, C2 3 h, C3 24 h (from its opening), C4 120 h; C5 was deployed before the window
    assert lead.count == 4
    assert lead.median_seconds == 24 * HOUR
    assert lead.p85_seconds == pytest.approx(76.8 * HOUR)
    # 24 h is not under a day: high (under a week) in 2023 and 2024, high in 2021 too
    assert lead.band is Band.HIGH
    assert report(DORA_2021).lead_time.band is Band.HIGH


def test_change_failure_rate_counts_deployments_not_incidents() -> None:
    rate = report().change_failure_rate
    # of D1..D5, D1 (I1) and D4 (I3) caused an incident; I2 belongs to D0, outside the window
    assert (rate.numerator, rate.denominator) == (2, 5)
    assert rate.value == pytest.approx(0.4)
    assert rate.band is Band.LOW  # over 15 % (2023) ...
    assert report(DORA_2021).change_failure_rate.band is Band.LOW  # ... and over 30 % (2021)


def test_failed_deployment_recovery_time_2023_and_2024() -> None:
    restore = report(DORA_2023).time_to_restore
    # from the attributed deployment in the window: I1 15:30 - D1 10:00 = 5.5 h,
    # I3 11 Mar 14:00 - D4 10 Mar 10:00 = 28 h; I2's D0 is outside, I4/I5 unattributed
    assert restore.measure is RestoreMeasure.DEPLOYMENT_SUCCEEDED
    assert restore.unresolved == 0
    assert restore.distribution.count == 2
    assert restore.distribution.median_seconds == pytest.approx(16.75 * HOUR)
    assert restore.distribution.p85_seconds == pytest.approx(24.625 * HOUR)  # 5.5 + 0.85 * 22.5
    assert restore.distribution.band is Band.HIGH  # under a day, not under an hour
    assert report(DORA_2024).time_to_restore == restore


def test_time_to_restore_2021_runs_from_the_incident() -> None:
    restore = report(DORA_2021).time_to_restore
    # every incident opened in the window: I1 4.5 h, I2 1 h, I3 4 h, I4 2 h; I5 still open
    assert restore.measure is RestoreMeasure.INCIDENT_OPENED
    assert restore.unresolved == 1
    assert restore.distribution.count == 4
    assert restore.distribution.median_seconds == 3 * HOUR  # (2 + 4) / 2
    assert restore.distribution.p85_seconds == pytest.approx(4.275 * HOUR)  # 4 + 0.55 * 0.5
    assert restore.distribution.band is Band.HIGH


def test_rework_rate_only_in_2024() -> None:
    rework = report(DORA_2024).rework_rate
    # D2 succeeded at 15:00 while I1 (a production incident, caused by D1) was open until 15:30
    assert rework is not None
    assert (rework.numerator, rework.denominator) == (1, 5)
    assert rework.value == pytest.approx(0.2)
    assert rework.band is None  # the 2024 report gives it no band
    assert report(DORA_2023).rework_rate is None
    assert report(DORA_2021).rework_rate is None


def test_every_report_names_its_definition_window_and_counts() -> None:
    result = report(DORA_2021, attribution_window=timedelta(days=2))
    assert (result.definition_id, result.definition_version) == ("dora-2021", 1)
    assert (result.since, result.until) == (SINCE, UNTIL)
    assert result.attribution_window == timedelta(days=2)
    # with 2 days, I2 (70 h after D0) is no longer attributed: I1 and I3 remain
    assert (result.incidents, result.incidents_attributed) == (5, 2)
    assert report().attribution_window == timedelta(days=7)


# where the definitions disagree ------------------------------------------------------


def test_2021_and_2023_disagree_on_bands_for_the_same_lead_time_and_failure_rate() -> None:
    # 8 deployments over one week, one of them followed by an incident: CFR 1/8 = 12.5 %;
    # every change took 2 h from first commit to production
    deployments = [Deployment(UUID(int=100 + n), "api", at(2 + n % 7, 9 + n)) for n in range(8)]
    changes = [
        Change(
            UUID(int=200 + n), d.succeeded_at, d.succeeded_at - timedelta(hours=2), d.succeeded_at
        )
        for n, d in enumerate(deployments)
    ]
    incidents = [Incident(UUID(int=300), "api", at(2, 10), at(2, 11))]  # after the 09:00 one
    until = SINCE + timedelta(days=7)
    old = compute(
        DORA_2021,
        deployments=deployments,
        changes=changes,
        incidents=incidents,
        since=SINCE,
        until=until,
    )
    new = compute(
        DORA_2023,
        deployments=deployments,
        changes=changes,
        incidents=incidents,
        since=SINCE,
        until=until,
    )
    assert old.change_failure_rate.value == new.change_failure_rate.value == 0.125
    assert old.change_failure_rate.band is Band.ELITE  # ≤ 15 % in 2021
    assert new.change_failure_rate.band is Band.MEDIUM  # over 10 %, ≤ 15 % in 2023
    assert old.lead_time.median_seconds == new.lead_time.median_seconds == 2 * HOUR
    assert old.lead_time.band is Band.HIGH  # not under an hour
    assert new.lead_time.band is Band.ELITE  # under a day


def test_2021_and_2023_disagree_on_deployment_frequency_bands() -> None:
    # four weeks, deployments on 2 and 16 March: deployment days per week [1, 0, 1, 0],
    # median 0.5; one 4-week month with 2 deployment days
    deployments = [
        Deployment(UUID(int=1), "api", at(2, 10)),
        Deployment(UUID(int=2), "api", at(16, 10)),
    ]
    until = SINCE + timedelta(days=28)
    old = compute(
        DORA_2021, deployments=deployments, changes=[], incidents=[], since=SINCE, until=until
    )
    new = compute(
        DORA_2023, deployments=deployments, changes=[], incidents=[], since=SINCE, until=until
    )
    assert old.deployment_frequency.median_deployment_days_per_week == 0.5
    assert old.deployment_frequency.band is Band.HIGH  # 2021: at least once a month
    assert new.deployment_frequency.band is Band.MEDIUM  # 2023: high needs once a week


def test_2023_and_2021_disagree_on_where_restore_starts() -> None:
    # deployed at 00:00, incident opened at 06:00 and resolved at 06:30
    deployments = [Deployment(UUID(int=1), "api", at(3, 0))]
    incidents = [Incident(UUID(int=2), "api", at(3, 6), at(3, 6, 30))]
    old = compute(
        DORA_2021,
        deployments=deployments,
        changes=[],
        incidents=incidents,
        since=SINCE,
        until=UNTIL,
    )
    new = compute(
        DORA_2023,
        deployments=deployments,
        changes=[],
        incidents=incidents,
        since=SINCE,
        until=UNTIL,
    )
    assert old.time_to_restore.distribution.median_seconds == 0.5 * HOUR
    assert old.time_to_restore.distribution.band is Band.ELITE
    assert new.time_to_restore.distribution.median_seconds == 6.5 * HOUR
    assert new.time_to_restore.distribution.band is Band.HIGH


def test_2024_and_2023_disagree_on_rework() -> None:
    # D1 breaks production at 10:00 (incident until 12:00); the fix D2 goes out at 11:00
    deployments = [
        Deployment(UUID(int=1), "api", at(3, 9)),
        Deployment(UUID(int=2), "api", at(3, 11)),
    ]
    incidents = [Incident(UUID(int=3), "api", at(3, 10), at(3, 12))]
    kwargs = {
        "deployments": deployments,
        "changes": [],
        "incidents": incidents,
        "since": SINCE,
        "until": UNTIL,
    }
    rework = compute(DORA_2024, **kwargs).rework_rate  # type: ignore[arg-type]
    assert rework is not None and (rework.numerator, rework.denominator, rework.value) == (
        1,
        2,
        0.5,
    )
    assert compute(DORA_2023, **kwargs).rework_rate is None  # type: ignore[arg-type]
    # a deployment during an incident nothing was attributed to is not rework
    unattributed = [Incident(UUID(int=4), "api", at(3, 8), at(3, 12))]  # before any deployment
    again = compute(DORA_2024, **(kwargs | {"incidents": unattributed})).rework_rate  # type: ignore[arg-type]
    assert again is not None and again.numerator == 0


def test_empty_history_has_no_numbers_and_no_bands() -> None:
    result = compute(DORA_2024, deployments=[], changes=[], incidents=[], since=SINCE, until=UNTIL)
    assert result.deployment_frequency.deployments == 0
    assert result.deployment_frequency.band is None
    assert result.lead_time.median_seconds is None and result.lead_time.band is None
    assert result.change_failure_rate.value is None and result.change_failure_rate.band is None
    assert result.rework_rate is not None and result.rework_rate.value is None


def test_a_partial_trailing_week_is_left_out_of_the_medians() -> None:
    # 10 days: one full week (deployment on 3 March) and 3 days (none) left out
    deployments = [
        Deployment(UUID(int=1), "api", at(3, 10)),
        Deployment(UUID(int=2), "api", at(11, 10)),
    ]
    result = compute(
        DORA_2023,
        deployments=deployments,
        changes=[],
        incidents=[],
        since=SINCE,
        until=SINCE + timedelta(days=10),
    )
    assert result.deployment_frequency.weeks == 1
    assert result.deployment_frequency.deployments == 2  # both counted in the totals
    assert result.deployment_frequency.median_deployment_days_per_week == 1


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="since"):
        compute(DORA_2024, deployments=[], changes=[], incidents=[], since=UNTIL, until=SINCE)
    with pytest.raises(ValueError, match="negative"):
        report(attribution_window=timedelta(hours=-1))


def test_the_definitions_are_listed_by_id() -> None:
    assert list(DEFINITIONS) == ["dora-2021", "dora-2023", "dora-2024"]
    assert DORA_2024.lead_time_bands == DORA_2023.lead_time_bands
    assert DORA_2021.change_failure_rate_bands[0].limit == 0.15


# the band tables and the edges of every rule ---------------------------------------------

H, D = 3600.0, 86400.0


def test_the_band_tables_are_each_years() -> None:
    # 2021: lead time under 1 h / 1 week (604800 s) / 180 days (15552000 s)
    assert [(b.band, b.limit, b.inclusive) for b in DORA_2021.lead_time_bands] == [
        (Band.ELITE, 3600, False),
        (Band.HIGH, 604800, False),
        (Band.MEDIUM, 15552000, False),
    ]
    # 2023: under 1 day / 1 week / 30 days (2592000 s)
    assert [(b.band, b.limit, b.inclusive) for b in DORA_2023.lead_time_bands] == [
        (Band.ELITE, 86400, False),
        (Band.HIGH, 604800, False),
        (Band.MEDIUM, 2592000, False),
    ]
    assert [(b.band, b.limit, b.inclusive) for b in DORA_2021.change_failure_rate_bands] == [
        (Band.ELITE, 0.15, True),
        (Band.HIGH, 0.20, True),
        (Band.MEDIUM, 0.30, True),
    ]
    assert [(b.band, b.limit, b.inclusive) for b in DORA_2023.change_failure_rate_bands] == [
        (Band.ELITE, 0.05, True),
        (Band.HIGH, 0.10, True),
        (Band.MEDIUM, 0.15, True),
    ]
    for definition in DEFINITIONS.values():  # restore: under 1 h / 1 day / 1 week (604800 s)
        assert [(b.band, b.limit, b.inclusive) for b in definition.time_to_restore_bands] == [
            (Band.ELITE, 3600, False),
            (Band.HIGH, 86400, False),
            (Band.MEDIUM, 604800, False),
        ]
    assert [(b.band, b.bucket_days, b.at_least) for b in DORA_2021.deployment_frequency_bands] == [
        (Band.ELITE, 7, 5),
        (Band.HIGH, 28, 1),
        (Band.MEDIUM, 182, 1),
    ]
    assert [(b.band, b.bucket_days, b.at_least) for b in DORA_2023.deployment_frequency_bands] == [
        (Band.ELITE, 7, 5),
        (Band.HIGH, 7, 1),
        (Band.MEDIUM, 28, 1),
    ]
    assert DORA_2024.deployment_frequency_bands == DORA_2023.deployment_frequency_bands
    assert DORA_2024.change_failure_rate_bands == DORA_2023.change_failure_rate_bands
    assert [d.version for d in DEFINITIONS.values()] == [1, 1, 1]


@pytest.mark.parametrize(
    ("value", "bands", "expected"),
    [
        (0.05, DORA_2023.change_failure_rate_bands, Band.ELITE),  # at the limit: in
        (0.0501, DORA_2023.change_failure_rate_bands, Band.HIGH),
        (0.15, DORA_2023.change_failure_rate_bands, Band.MEDIUM),
        (0.1501, DORA_2023.change_failure_rate_bands, Band.LOW),
        (D, DORA_2023.lead_time_bands, Band.HIGH),  # exactly a day is not under a day
        (D - 1, DORA_2023.lead_time_bands, Band.ELITE),
        (H, DORA_2021.time_to_restore_bands, Band.HIGH),
        (7 * D, DORA_2021.time_to_restore_bands, Band.LOW),
        (None, DORA_2021.time_to_restore_bands, None),
        (0.3, (), None),  # no table, no band
    ],
)
def test_bands_at_their_edges(value: float | None, bands: Any, expected: Band | None) -> None:
    assert band_of(value, bands) is expected


def test_the_frequency_band_edges() -> None:
    # one deployment day in one week: median 1, exactly high's "at least 1 a week"
    one = compute(
        DORA_2023,
        deployments=[Deployment(UUID(int=1), "api", at(3, 10))],
        changes=[],
        incidents=[],
        since=SINCE,
        until=SINCE + timedelta(days=7),
    )
    assert one.deployment_frequency.band is Band.HIGH
    # five deployment days in the week: elite; four: high
    five = [Deployment(UUID(int=n), "api", at(2 + n, 10)) for n in range(5)]
    week = {"changes": [], "incidents": [], "since": SINCE, "until": SINCE + timedelta(days=7)}
    assert compute(DORA_2023, deployments=five, **week).deployment_frequency.band is Band.ELITE  # type: ignore[arg-type]
    assert compute(DORA_2023, deployments=five[:4], **week).deployment_frequency.band is Band.HIGH  # type: ignore[arg-type]
    # 2021 over 26 weeks with one deployment: no month has one (median 0), half a year does
    half = compute(
        DORA_2021,
        deployments=[Deployment(UUID(int=1), "api", at(3, 10))],
        changes=[],
        incidents=[],
        since=SINCE,
        until=SINCE + timedelta(days=182),
    )
    assert half.deployment_frequency.band is Band.MEDIUM
    assert half.deployment_frequency.weeks == 26
    # one deployment in 8 weeks under 2023: weekly median 0; 4-week months [1, 0], median 0.5
    assert (
        compute(
            DORA_2023,
            deployments=[Deployment(UUID(int=1), "api", at(3, 10))],
            changes=[],
            incidents=[],
            since=SINCE,
            until=SINCE + timedelta(days=56),
        ).deployment_frequency.band
        is Band.LOW
    )


def test_the_edges_of_the_range_attribution_and_rework() -> None:
    # a deployment exactly at since counts, one exactly at until does not
    edges = [Deployment(UUID(int=1), "api", SINCE), Deployment(UUID(int=2), "api", UNTIL)]
    result = compute(
        DORA_2024, deployments=edges, changes=[], incidents=[], since=SINCE, until=UNTIL
    )
    assert result.deployment_frequency.deployments == 1
    # an incident opened the moment a deployment succeeded belongs to it; a zero window is allowed
    same = Incident(UUID(int=3), "api", SINCE, SINCE + timedelta(hours=1))
    assert attribute([same], edges, timedelta(0)) == {same.id: edges[0]}
    # rework: a deployment at the incident's opening is not a fix; one at its resolution is
    opening = Deployment(UUID(int=4), "api", at(3, 10))
    resolution = Deployment(UUID(int=5), "api", at(3, 12))
    cause = Deployment(UUID(int=6), "api", at(3, 9))
    incident = Incident(UUID(int=7), "api", at(3, 10), at(3, 12))
    rework = compute(
        DORA_2024,
        deployments=[cause, opening, resolution],
        changes=[],
        incidents=[incident],
        since=SINCE,
        until=UNTIL,
    ).rework_rate
    assert rework is not None and (rework.numerator, rework.denominator) == (1, 3)
    # (the incident opened as `opening` succeeded, so `opening`, the latest, caused it)
    with pytest.raises(ValueError, match="since"):
        compute(DORA_2024, deployments=[], changes=[], incidents=[], since=SINCE, until=SINCE)
    zero = report(attribution_window=timedelta(0))
    assert zero.attribution_window == timedelta(0)


# attribution and rework by bisection, against the rules read literally ---------------------

_HOUR = datetime(2026, 3, 2, tzinfo=UTC)
_moments = st.integers(0, 48).map(lambda h: _HOUR + timedelta(hours=h))
_services = st.sampled_from(["api", "web"])
_deployments = st.lists(
    st.builds(Deployment, id=st.uuids(), service=_services, succeeded_at=_moments), max_size=12
)
_incidents = st.lists(
    st.builds(
        Incident,
        id=st.uuids(),
        service=_services,
        opened_at=_moments,
        resolved_at=st.none() | _moments,
    ),
    max_size=8,
)


@given(deployments=_deployments, incidents=_incidents, hours=st.integers(0, 30))
def test_attribution_and_rework_follow_the_rules_read_literally(
    deployments: list[Deployment], incidents: list[Incident], hours: int
) -> None:
    """Every deployment and incident looked at for every other, as the rules say, on many
    ties (hour-grained times, two services): the bisections give the same answers."""
    window = timedelta(hours=hours)
    expected: dict[UUID, Deployment] = {}
    for i in incidents:
        candidates = [
            d
            for d in deployments
            if d.service == i.service
            and d.succeeded_at <= i.opened_at
            and i.opened_at - d.succeeded_at <= window
        ]
        if candidates:
            expected[i.id] = max(candidates, key=lambda d: (d.succeeded_at, d.id))
    assert attribute(incidents, deployments, window) == expected
    is_rework = rework_of(incidents)
    for d in deployments:
        literal = any(
            i.service == d.service
            and i.opened_at < d.succeeded_at
            and (i.resolved_at is None or d.succeeded_at <= i.resolved_at)
            for i in incidents
        )
        assert is_rework(d) == literal

"""Schedule runs worked by hand from the zones' rules: Europe/Paris moves to summer time
(UTC+2) on Sunday 29 March 2026 at 02:00 and back to UTC+1 on Sunday 25 October 2026 at
03:00; America/New_York to UTC-4 on Sunday 8 March 2026."""

from datetime import UTC, date, datetime, time

import pytest

from sextant.reports.domain.schedules import Cadence, latest_due, next_run, period_of

MONDAY_8_PARIS = Cadence("weekly", 1, time(8, 0), "Europe/Paris")
SUNDAY_0230_PARIS = Cadence("weekly", 7, time(2, 30), "Europe/Paris")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_weekly_run_keeps_its_local_time_into_summer_time() -> None:
    # Monday 23 March 08:00 CET is 07:00Z; Monday 30 March 08:00 CEST is 06:00Z.
    assert next_run(MONDAY_8_PARIS, utc(2026, 3, 23, 7)) == utc(2026, 3, 30, 6)


def test_a_weekly_run_keeps_its_local_time_out_of_summer_time() -> None:
    # Monday 19 October 08:00 CEST is 06:00Z; Monday 26 October 08:00 CET is 07:00Z.
    assert next_run(MONDAY_8_PARIS, utc(2026, 10, 19, 6)) == utc(2026, 10, 26, 7)


def test_a_run_just_before_its_time_is_that_day_and_at_its_time_is_next_week() -> None:
    assert next_run(MONDAY_8_PARIS, utc(2026, 3, 30, 5, 59)) == utc(2026, 3, 30, 6)
    assert next_run(MONDAY_8_PARIS, utc(2026, 3, 30, 6)) == utc(2026, 4, 6, 6)


def test_a_time_in_the_spring_gap_runs_after_the_jump() -> None:
    # 02:30 does not exist on 29 March in Paris: it runs at 03:30 CEST, 01:30Z.
    assert next_run(SUNDAY_0230_PARIS, utc(2026, 3, 22, 1, 30)) == utc(2026, 3, 29, 1, 30)


def test_a_time_in_the_autumn_fold_runs_once_the_first_time() -> None:
    # 02:30 happens twice on 25 October: first at 00:30Z (CEST), again at 01:30Z (CET).
    assert next_run(SUNDAY_0230_PARIS, utc(2026, 10, 18, 0, 30)) == utc(2026, 10, 25, 0, 30)
    # and the next run is a week later, not the second 02:30 of that night
    assert next_run(SUNDAY_0230_PARIS, utc(2026, 10, 25, 0, 30)) == utc(2026, 11, 1, 1, 30)


def test_a_monthly_day_past_the_months_end_runs_on_its_last_day() -> None:
    last_day = Cadence("monthly", 31, time(7, 0), "America/New_York")
    # 31 January 07:00 EST is 12:00Z; then 28 February (EST), then 31 March (EDT: 11:00Z)
    assert next_run(last_day, utc(2026, 1, 31, 12)) == utc(2026, 2, 28, 12)
    assert next_run(last_day, utc(2026, 2, 28, 12)) == utc(2026, 3, 31, 11)


def test_a_scheduler_that_was_down_catches_up_once_with_the_latest_run() -> None:
    # Down from Friday 20 March to Wednesday 15 April 10:00Z: the Mondays 23 and 30 March,
    # 6 and 13 April fell due; only 13 April 08:00 CEST (06:00Z) is run.
    now = utc(2026, 4, 15, 10)
    assert latest_due(MONDAY_8_PARIS, now) == utc(2026, 4, 13, 6)
    assert next_run(MONDAY_8_PARIS, now) == utc(2026, 4, 20, 6)
    assert latest_due(MONDAY_8_PARIS, utc(2026, 4, 13, 6)) == utc(2026, 4, 13, 6)


def test_a_weekly_run_reports_on_the_seven_days_before_it() -> None:
    assert period_of(MONDAY_8_PARIS, utc(2026, 3, 30, 6)) == (date(2026, 3, 23), date(2026, 3, 29))


def test_a_monthly_run_reports_on_the_month_before_it() -> None:
    first = Cadence("monthly", 1, time(0, 30), "Europe/Paris")
    # 1 March 00:30 in Paris is 28 February 23:30Z: the local day is 1 March.
    run = next_run(first, utc(2026, 2, 15))
    assert run == utc(2026, 2, 28, 23, 30)
    assert period_of(first, run) == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.parametrize(("every", "day"), [("weekly", 0), ("weekly", 8), ("monthly", 32)])
def test_a_day_outside_the_cadence_is_refused(every: str, day: int) -> None:
    with pytest.raises(ValueError, match=f"not {day}"):
        Cadence(every, day, time(8), "UTC")  # type: ignore[arg-type]

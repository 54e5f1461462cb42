"""The backtest a forecast reply carries: which kind, its origins as dates, and when there
is too little history for it."""

from datetime import date

import pytest

from sextant.forecast import service
from sextant.forecast.domain.montecarlo import ForecastOptions

ALL = (50, 70, 85, 95)


def test_the_when_reply_names_its_origins_by_date() -> None:
    """100 weeks of 5 a week before the week of Wednesday 2026-12-02 (its Monday:
    2026-11-30). Index 52 is 48 weeks before that Monday; 4-week horizons are scored up to
    origin 88 (12 weeks before it), 12-week ones up to 64 (36 weeks before)."""
    report = service._calibration([5] * 100, ForecastOptions(trials=100), "when", date(2026, 12, 2))
    assert report.kind == "when" and report.available
    short, long = report.rows
    assert (short.horizon_weeks, short.origins) == (4, 10)
    assert (short.first_origin, short.last_origin) == (date(2025, 12, 29), date(2026, 9, 7))
    assert (long.horizon_weeks, long.origins) == (12, 4)
    assert (long.first_origin, long.last_origin) == (date(2025, 12, 29), date(2026, 3, 23))
    assert short.hit_share == dict.fromkeys(ALL, 1.0) and short.step_weeks == 4
    # Binomial(10, 0.85): P(X ≤ 5) = 1.0 % < 2.5 % ≤ P(X ≤ 6) = 5.0 %: 6 to 10 hits
    assert short.bands[85] == pytest.approx((0.6, 1.0))


def test_when_needs_three_horizons_more_history_than_how_many() -> None:
    options = ForecastOptions(trials=100)
    history, today = [5] * 87, date(2026, 12, 2)
    assert service._calibration(history, options, "how_many", today).available
    when_report = service._calibration(history, options, "when", today)
    assert not when_report.available
    assert when_report.reason == (
        "needs 88 weeks of history to backtest when forecasts; this scope has 87"
    )


def test_a_long_history_is_backtested_over_its_latest_two_years() -> None:
    """300 weeks: every forecast reads all the weeks before it, but only origins from 184
    on are scored (300 less the 12-week reach less 104): 184 to 296 for 4 weeks (29), to
    288 for 12 (27); origin 184 is 116 weeks before Monday 2026-11-30."""
    report = service._calibration(
        [5] * 300, ForecastOptions(trials=100), "how_many", date(2026, 12, 2)
    )
    short, long = report.rows
    assert (short.origins, long.origins) == (29, 27)
    assert (short.first_origin, short.last_origin) == (date(2024, 9, 9), date(2026, 11, 2))
    assert (long.first_origin, long.last_origin) == (date(2024, 9, 9), date(2026, 9, 7))

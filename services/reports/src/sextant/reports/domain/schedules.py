"""When a report schedule runs, and which period each run reports on.

A cadence is a local wall-clock time in an IANA zone on a weekday (weekly) or on a day of
the month (monthly; a day past the month's end means its last day). Runs are computed in
local time and only then turned into UTC, so a run stays at 08:00 local across a change of
daylight-saving time (its UTC time moves by the hour). A local time that does not exist
that day (the spring gap) runs as far after the gap's start as asked (02:30 in a gap from
02:00 to 03:00 runs at 03:30); one that happens twice (the autumn fold) runs the first
time.

A weekly run reports on the seven local days before its day; a monthly run on the
calendar month before its month. A scheduler that was down catches up once: the latest
run that fell due, not every one it missed (:func:`latest_due`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Every = Literal["weekly", "monthly"]


@dataclass(frozen=True)
class Cadence:
    """``weekly`` on ``day`` 1 (Monday) to 7 (Sunday), or ``monthly`` on ``day`` 1 to 31."""

    every: Every
    day: int
    at: time
    time_zone: str

    def __post_init__(self) -> None:
        last = 7 if self.every == "weekly" else 31
        if not 1 <= self.day <= last:
            raise ValueError(f"a {self.every} day is 1 to {last}, not {self.day}")


def run_on(cadence: Cadence, local_day: date) -> datetime:
    """The UTC moment of the run on ``local_day`` (which must be one of its days)."""
    wall = datetime.combine(local_day, cadence.at, tzinfo=ZoneInfo(cadence.time_zone))
    # fold=0: in a gap, the offset before it (so 02:30 becomes 03:30 after the jump);
    # in a fold, the first of the two moments.
    return wall.astimezone(UTC)


def _month_day(cadence: Cadence, year: int, month: int) -> date:
    return date(year, month, min(cadence.day, calendar.monthrange(year, month)[1]))


def _days_from(cadence: Cadence, start: date, step: int) -> list[date]:
    """Run days from around ``start`` on, forward (step 1) or back (step -1): enough of them
    that the first run after (or at or before) any moment of ``start`` is among them."""
    if cadence.every == "weekly":
        days = [start + timedelta(days=step * n) for n in range(-1, 16)]
        return [d for d in days if d.isoweekday() == cadence.day]
    months = []
    year, month = start.year, start.month
    for n in range(-1, 4):
        index = year * 12 + month - 1 + step * n
        months.append(_month_day(cadence, index // 12, index % 12 + 1))
    return months


def next_run(cadence: Cadence, after: datetime) -> datetime:
    """The first run strictly after ``after``."""
    local = after.astimezone(ZoneInfo(cadence.time_zone)).date()
    return min(m for m in (run_on(cadence, d) for d in _days_from(cadence, local, 1)) if m > after)


def latest_due(cadence: Cadence, now: datetime) -> datetime:
    """The last run at or before ``now``: what a scheduler that missed runs does once."""
    local = now.astimezone(ZoneInfo(cadence.time_zone)).date()
    return max(m for m in (run_on(cadence, d) for d in _days_from(cadence, local, -1)) if m <= now)


def period_of(cadence: Cadence, run: datetime) -> tuple[date, date]:
    """The local days (first, last; both included) the run at ``run`` reports on."""
    day = run.astimezone(ZoneInfo(cadence.time_zone)).date()
    if cadence.every == "weekly":
        return day - timedelta(days=7), day - timedelta(days=1)
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last

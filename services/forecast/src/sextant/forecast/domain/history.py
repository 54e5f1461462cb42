"""From work-item histories to what forecasts sample: weekly throughput and cycle times."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

DEFAULT_STARTED = frozenset({"in_progress"})
DEFAULT_DONE = frozenset({"done"})


@dataclass(frozen=True)
class Transition:
    """An item entering a status (with its category) at a moment."""

    at: datetime
    status: str
    category: str


def week_start(moment: datetime | date) -> date:
    """The Monday of the (UTC) week a moment falls in."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def throughput_by_week(done_at: Iterable[datetime], first: date, last: date) -> list[int]:
    """Items done per week from ``first``'s week to ``last``'s, zero weeks included."""
    start, end = week_start(first), week_start(last)
    weeks = (end - start).days // 7 + 1
    counts = np.zeros(max(weeks, 0), dtype=np.int64)
    for moment in done_at:
        index = (week_start(moment) - start).days // 7
        if 0 <= index < weeks:
            counts[index] += 1
    return [int(c) for c in counts]


def throughput_by_day(done_at: Iterable[datetime], first: date, last: date) -> list[int]:
    """Items done per day (UTC) from ``first`` to ``last``, zero days included."""
    days = (last - first).days + 1
    counts = np.zeros(max(days, 0), dtype=np.int64)
    for moment in done_at:
        index = (moment.astimezone(UTC).date() - first).days
        if 0 <= index < days:
            counts[index] += 1
    return [int(c) for c in counts]


def cycle_time_days(
    history: Sequence[Transition],
    started: frozenset[str] = DEFAULT_STARTED,
    done: frozenset[str] = DEFAULT_DONE,
) -> float | None:
    """Days from first entering a "started" category (or status) to the last time the item
    became "done"; None while not done or never started. Reopened items count their
    final completion."""
    ordered = sorted(history, key=lambda t: t.at)
    first_start = next(
        (t.at for t in ordered if t.category in started or t.status in started), None
    )
    if first_start is None or not ordered:
        return None
    final = ordered[-1]
    if not (final.category in done or final.status in done):
        return None
    return max((final.at - first_start).total_seconds() / 86400, 0.0)


def finish_probability(
    age_days: float, remaining_days: float, cycle_times: Sequence[float]
) -> float:
    """P(an item now ``age_days`` into its cycle finishes within ``remaining_days``):
    the empirical P(CT ≤ age + remaining | CT > age). With no comparable history, 0.5."""
    times = np.asarray(cycle_times, dtype=np.float64)
    survivors = times[times > age_days]
    if survivors.size == 0:
        return 0.5 if times.size == 0 else 0.0
    return float(np.mean(survivors <= age_days + remaining_days))

"""Retention: how long each class of a tenant's data stays hot (in PostgreSQL) and cold
(in the object store), and the defaults a tenant starts with.

Both periods count from the event's time. The cold copy is the only one once the hot
period ends, so it must last at least as long (``cold_days >= hot_days``). The hot period
of ``deleted_work_items`` is the grace of work items deleted in their tool: their rows are
purged that many days after the deletion. The daily rollup of DeveloperMetrics is no class
here: it is kept hot, so developer trends survive the purge of the events behind them.
DORA is not rolled up (each call picks its definition and attribution window); insights
keeps hot what DORA reads of the change requests, deployments and incidents those classes'
purges delete, so DORA for a period past their hot period stays what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

DataClass = Literal[
    "raw_deliveries",
    "activity_events",
    "work_items",
    "change_requests",
    "deployments",
    "audit_log",
    "notifications",
    "rendered_reports",
    "deleted_work_items",
]
DATA_CLASSES: tuple[DataClass, ...] = get_args(DataClass)

MAX_HOT_DAYS = 3650
MAX_COLD_DAYS = 36500


@dataclass(frozen=True)
class Periods:
    hot_days: int
    cold_days: int


DEFAULTS: Mapping[DataClass, Periods] = {
    # a webhook's raw body is for replaying a recent mistake; its normalized events stay
    "raw_deliveries": Periods(30, 365),
    "activity_events": Periods(90, 730),
    # what dashboards and forecasts read: two years hot, five in all
    "work_items": Periods(730, 1825),
    "change_requests": Periods(730, 1825),
    "deployments": Periods(730, 1825),
    # audits are asked for years later (SOX and the like keep seven)
    "audit_log": Periods(365, 2555),
    "notifications": Periods(90, 365),
    "rendered_reports": Periods(90, 365),
    # items deleted in their tool: hot is the grace before their rows are purged, as long
    # as the gateway's soft-delete grace (30 days); their events' cold copy is the
    # work_items class's, so cold_days only has to outlast hot_days
    "deleted_work_items": Periods(30, 1825),
}


def effective(chosen: Mapping[DataClass, Periods]) -> dict[DataClass, Periods]:
    """Every class's periods: the tenant's choice, else the default."""
    return {c: chosen.get(c, DEFAULTS[c]) for c in DATA_CLASSES}

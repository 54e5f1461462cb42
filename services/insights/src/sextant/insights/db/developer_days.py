"""DeveloperMetrics: one row per developer per UTC day with activity, recomputed from the
projections; callers own the transaction.

A row is keyed by the developer id its records read as now (the local alias map), so an
identity merge, split or alias move is a recompute of the days of the developers involved.
A (developer, day) is always recomputed whole from the rows, never accumulated: replaying
a batch or receiving it out of order leaves the same rows. A day with no activity of its own
(no commit, opening, merge or review) has no row, whatever its WIP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.insights.db import (
    change_requests,
    commits,
    developer_day_rows,
    developers,
    projection,
    reviews,
    tenant_settings,
)
from sextant.insights.domain.trends import DeveloperDay
from sextant.runtime.db import driver_connection

Pair = tuple[UUID, date]  # (developer, UTC day)


@dataclass(frozen=True)
class DayChange:
    """A (developer, day) whose figures changed; ``figures`` None when its row went away."""

    developer_id: UUID
    day: date
    figures: DeveloperDay | None


# Who a developer is now: every id reading as it, and itself unless merged away.
_COMPUTE = """
WITH pairs AS (
  SELECT DISTINCT developer_id, day FROM unnest($2::uuid[], $3::date[]) AS p(developer_id, day)
), people AS (
  SELECT p.developer_id, p.day,
         p.day::timestamp AT TIME ZONE 'UTC' AS starts,
         (p.day + 1)::timestamp AT TIME ZONE 'UTC' AS ends,
         ARRAY(
           SELECT d.developer_id FROM insights.developers d
            WHERE d.tenant_id = $1 AND d.current_id = p.developer_id
           UNION
           SELECT p.developer_id WHERE NOT EXISTS (
             SELECT 1 FROM insights.developers d
              WHERE d.tenant_id = $1 AND d.developer_id = p.developer_id)
         ) AS members
    FROM pairs p
)
SELECT p.developer_id, p.day,
  (SELECT count(*) FROM insights.commits c
    WHERE c.tenant_id = $1 AND c.author_developer_id = ANY(p.members)
      AND c.authored_at >= p.starts AND c.authored_at < p.ends) AS commits,
  (SELECT count(*) FROM insights.change_requests cr
    WHERE cr.tenant_id = $1 AND cr.author_developer_id = ANY(p.members)
      AND cr.opened_at >= p.starts AND cr.opened_at < p.ends) AS changes_opened,
  merged.count AS changes_merged, merged.hours AS cycle_time_hours,
  round(merged.p50::numeric, 6)::float8 AS cycle_time_p50_hours,
  round(merged.p85::numeric, 6)::float8 AS cycle_time_p85_hours,
  (SELECT count(*) FROM insights.reviews r
     JOIN insights.change_requests cr ON cr.tenant_id = r.tenant_id AND cr.id = r.change_request_id
    WHERE r.tenant_id = $1 AND r.reviewer_developer_id = ANY(p.members)
      AND r.submitted_at >= p.starts AND r.submitted_at < p.ends
      AND NOT coalesce(cr.author_developer_id = ANY(p.members), false)) AS reviews_given,
  round(latency.total::numeric, 6)::float8 AS review_latency_hours_sum,
  latency.count AS review_latency_count,
  (SELECT count(*) FROM insights.change_requests cr
    WHERE cr.tenant_id = $1 AND cr.author_developer_id = ANY(p.members)
      AND cr.opened_at < p.ends
      AND coalesce(least(cr.merged_at, cr.closed_at), 'infinity') >= p.ends) AS wip
FROM people p
CROSS JOIN LATERAL (
  SELECT count(*) AS count,
         coalesce(array_agg(m.hours ORDER BY m.hours), '{}') AS hours,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY m.hours) AS p50,
         percentile_cont(0.85) WITHIN GROUP (ORDER BY m.hours) AS p85
    FROM (
      SELECT round(greatest(0, extract(epoch FROM
               cr.merged_at - coalesce(cr.first_commit_at, cr.opened_at)) / 3600.0), 6)::float8 AS hours
        FROM insights.change_requests cr
       WHERE cr.tenant_id = $1 AND cr.author_developer_id = ANY(p.members)
         AND cr.merged_at >= p.starts AND cr.merged_at < p.ends
    ) m
) merged
CROSS JOIN LATERAL (
  SELECT coalesce(sum(greatest(0, extract(epoch FROM f.first - f.opened_at) / 3600.0)), 0) AS total,
         count(*) AS count
    FROM (
      -- the changes whose first review by the person falls on the day: reviewed that
      -- day and not before (read from the day's reviews, not the person's history)
      SELECT min(r.submitted_at) AS first, cr.opened_at
        FROM insights.reviews r
        JOIN insights.change_requests cr
          ON cr.tenant_id = r.tenant_id AND cr.id = r.change_request_id
       WHERE r.tenant_id = $1 AND r.reviewer_developer_id = ANY(p.members)
         AND r.submitted_at >= p.starts AND r.submitted_at < p.ends
         AND NOT coalesce(cr.author_developer_id = ANY(p.members), false)
         AND NOT EXISTS (
           SELECT 1 FROM insights.reviews e
            WHERE e.tenant_id = $1 AND e.change_request_id = r.change_request_id
              AND e.reviewer_developer_id = ANY(p.members) AND e.submitted_at < p.starts)
       GROUP BY r.change_request_id, cr.opened_at
    ) f
) latency
"""

FIELDS = (
    "commits",
    "changes_opened",
    "changes_merged",
    "reviews_given",
    "review_latency_hours_sum",
    "review_latency_count",
    "cycle_time_hours",
    "cycle_time_p50_hours",
    "cycle_time_p85_hours",
    "wip",
)


def figures_of(row: Any) -> DeveloperDay:
    values = {name: row[name] for name in FIELDS}
    values["cycle_time_hours"] = tuple(values["cycle_time_hours"])
    return DeveloperDay(**values)


def utc_day(at: datetime) -> date:
    """The UTC date a moment falls on (a row's day)."""
    return at.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    """Midnight UTC opening ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def published_metrics(figures: DeveloperDay | None) -> dict[str, float | None]:
    """A day's figures as ``MetricsComputed`` carries them (zeros for a day gone empty)."""
    empty = figures is None
    f = figures or DeveloperDay(0, 0, 0, 0, 0.0, 0, (), None, None, 0)
    return {
        "commits": f.commits,
        "changes_opened": f.changes_opened,
        "changes_merged": f.changes_merged,
        "reviews_given": f.reviews_given,
        "review_latency_hours_sum": f.review_latency_hours_sum,
        "review_latency_count": f.review_latency_count,
        "cycle_time_p50_hours": f.cycle_time_p50_hours,
        "cycle_time_p85_hours": f.cycle_time_p85_hours,
        "wip": None if empty else f.wip,
    }


def _days_lock(tenant: UUID, developer: UUID | None = None) -> str:
    return f"insights/days/{tenant}" if developer is None else f"insights/days/{tenant}/{developer}"


async def lock_tenant_days(session: AsyncSession, tenant: UUID, *, exclusive: bool) -> None:
    """Hold the tenant's DeveloperMetrics lock until commit: exclusive for an identity change
    (it moves records between developers), shared for a projecting batch. Without it a
    batch attributing records to a developer while a split moves that developer's aliases
    would keep them on the old side (the split's update does not see them), and the split
    would not queue the days of the batch's keys."""
    lock = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
    await session.execute(sa.select(lock(sa.func.hashtextextended(_days_lock(tenant), 0))))


async def current_ids(session: AsyncSession, tenant: UUID, ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The id each of ``ids`` reads as now (itself when the alias map does not know it)."""
    wanted = set(ids)
    if not wanted:
        return {}
    d = developers
    found = {
        row.developer_id: row.current_id
        for row in await session.execute(
            sa.select(d.c.developer_id, d.c.current_id).where(
                d.c.tenant_id == tenant, d.c.developer_id.in_(wanted)
            )
        )
    }
    return {i: found.get(i, i) for i in wanted}


async def days_since(session: AsyncSession, tenant: UUID, since: Iterable[Pair]) -> set[Pair]:
    """The rows of each (developer, from day) pair on or after that day: a change request's
    opening, merge or close moves the WIP of every later day."""
    earliest: dict[UUID, date] = {}
    for developer, day in since:
        earliest[developer] = min(day, earliest.get(developer, day))
    if not earliest:
        return set()
    t = developer_day_rows
    condition = sa.or_(
        *(sa.and_(t.c.developer_id == d, t.c.day >= day) for d, day in earliest.items())
    )
    rows = await session.execute(
        sa.select(t.c.developer_id, t.c.day).where(t.c.tenant_id == tenant, condition)
    )
    return {(r.developer_id, r.day) for r in rows}


async def merged_days_of_pushes(
    session: AsyncSession,
    tenant: UUID,
    pushes: Sequence[tuple[UUID, str, Iterable[str], Iterable[str]]],
) -> set[Pair]:
    """The (author, merge day) of the merged change requests pushed commits may belong
    to (per repository, the branches and the commits pushed,
    :func:`~sextant.insights.db.projection.may_hold`): their first commit, and so their
    cycle time, may have moved."""
    if not pushes:
        return set()
    cr = change_requests
    condition = sa.or_(
        *(
            sa.and_(
                cr.c.workspace_id == workspace,
                cr.c.repository_id == repository,
                projection.may_hold(branches, shas),
            )
            for workspace, repository, branches, shas in pushes
        )
    )
    rows = await session.execute(
        sa.select(cr.c.author_developer_id, cr.c.merged_at).where(
            cr.c.tenant_id == tenant,
            cr.c.merged_at.is_not(None),
            cr.c.author_developer_id.is_not(None),
            condition,
        )
    )
    return {(r.author_developer_id, utc_day(r.merged_at)) for r in rows}


async def refresh(session: AsyncSession, tenant: UUID, pairs: Iterable[Pair]) -> list[DayChange]:
    """Recompute the (developer, day) ``pairs`` (developers by their current id) from the
    projections; write what changed and return it, in (developer, day) order."""
    wanted = sorted(set(pairs))
    if not wanted:
        return []
    driver = await driver_connection(session)
    computed = {
        (row["developer_id"], row["day"]): figures_of(row)
        for row in await driver.fetch(
            _COMPUTE, tenant, [d for d, _ in wanted], [day for _, day in wanted]
        )
    }
    t = developer_day_rows
    # by the driver and arrays, as the computation: thousands of pairs in a rebuild's round
    # made the statement's compiling its slowest part
    existing = {
        (row["developer_id"], row["day"]): figures_of(row)
        for row in await driver.fetch(
            "SELECT t.* FROM insights.developer_days t"
            " JOIN unnest($2::uuid[], $3::date[]) AS p(developer_id, day)"
            " ON t.developer_id = p.developer_id AND t.day = p.day WHERE t.tenant_id = $1",
            tenant,
            [d for d, _ in wanted],
            [day for _, day in wanted],
        )
    }
    changes: list[DayChange] = []
    for pair in wanted:
        now = computed[pair] if computed[pair].active else None
        if now != existing.get(pair):
            changes.append(DayChange(pair[0], pair[1], now))
    written = [c for c in changes if c.figures is not None]
    if written:
        statement = insert(t)
        rows = [
            {
                "tenant_id": tenant,
                "developer_id": c.developer_id,
                "day": c.day,
                **{
                    name: list(value) if isinstance(value, tuple) else value
                    for name in FIELDS
                    for value in [getattr(c.figures, name)]
                },
            }
            for c in written
        ]
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[t.c.tenant_id, t.c.developer_id, t.c.day],
                set_={name: statement.excluded[name] for name in FIELDS},
            ),
            rows,
        )
    gone = [(c.developer_id, c.day) for c in changes if c.figures is None]
    if gone:
        await session.execute(
            sa.delete(t).where(
                t.c.tenant_id == tenant, sa.tuple_(t.c.developer_id, t.c.day).in_(gone)
            )
        )
    return changes


# identity changes ---------------------------------------------------------------------------


async def reattribute_aliases(
    session: AsyncSession, tenant: UUID, alias_ids: Sequence[UUID], to_developer: UUID
) -> None:
    """Records made under ``alias_ids`` now belong to ``to_developer`` (a split or a moved
    alias): identity says so by alias, and the records keep the alias they came under."""
    for table, developer, alias in (
        (change_requests, "author_developer_id", "author_alias_id"),
        (reviews, "reviewer_developer_id", "reviewer_alias_id"),
        (commits, "author_developer_id", "author_alias_id"),
    ):
        await session.execute(
            sa.update(table)
            .where(table.c.tenant_id == tenant, table.c[alias].in_(list(alias_ids)))
            .values({developer: to_developer})
        )


async def restore_developer(session: AsyncSession, tenant: UUID, developer_id: UUID) -> None:
    """``developer_id`` reads as itself again (a split's new or revived developer)."""
    d = developers
    statement = insert(d).values(
        tenant_id=tenant, developer_id=developer_id, current_id=developer_id
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[d.c.tenant_id, d.c.developer_id],
            set_={"current_id": developer_id},
        )
    )


# reads --------------------------------------------------------------------------------------


async def known_developer(session: AsyncSession, tenant: UUID, developer_id: UUID) -> bool:
    """Whether identity announced ``developer_id`` or any record was attributed to it."""
    d, t = developers, developer_day_rows
    announced = sa.exists().where(d.c.tenant_id == tenant, d.c.developer_id == developer_id)
    active = sa.exists().where(t.c.tenant_id == tenant, t.c.developer_id == developer_id)
    return bool(await session.scalar(sa.select(sa.or_(announced, active))))


@dataclass(frozen=True)
class DayRow:
    day: date
    figures: DeveloperDay


async def history(
    session: AsyncSession, tenant: UUID, developer_id: UUID, since: date, until: date
) -> list[DayRow]:
    """The developer's rows over [since, until), oldest first."""
    t = developer_day_rows
    rows = await session.execute(
        sa.select(t)
        .where(
            t.c.tenant_id == tenant,
            t.c.developer_id == developer_id,
            t.c.day >= since,
            t.c.day < until,
        )
        .order_by(t.c.day)
    )
    return [DayRow(row.day, figures_of(row._mapping)) for row in rows]


# the tenant's switch ------------------------------------------------------------------------


async def developer_metrics_enabled(session: AsyncSession, tenant: UUID) -> bool:
    """Whether the tenant shows per-developer metrics (on unless an admin turned them off)."""
    t = tenant_settings
    enabled = await session.scalar(
        sa.select(t.c.developer_metrics_enabled).where(t.c.tenant_id == tenant)
    )
    return True if enabled is None else bool(enabled)


async def set_developer_metrics_enabled(
    session: AsyncSession, tenant: UUID, enabled: bool, by: str, at: datetime
) -> bool:
    """Set the switch; the value it had before."""
    before = await developer_metrics_enabled(session, tenant)
    t = tenant_settings
    statement = insert(t).values(
        tenant_id=tenant, developer_metrics_enabled=enabled, updated_by=by, updated_at=at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.tenant_id],
            set_={"developer_metrics_enabled": enabled, "updated_by": by, "updated_at": at},
        )
    )
    return before

"""What shipped, and each change request's production deployment and lead time, do not
depend on the order its events arrive in (README, "Deployment ↔ change linkage", rule 5).

One repository, worked by hand (T0 = Monday 2 March 2026 09:00 UTC):

    main:  A ── S1 ── c1 ── c2 ── M2
           │    └ squash of #1 (b1, b2 pushed to feature/1, never on main)
           └ #0 merged as A long ago    M2: merge commit of #2 (c1, c2)

    pushes   P1 feature/1 A→[b1, b2] at 10:00 (authored 09:58, 09:59)
             P2 main A→[S1] at 11:00
             P3 main S1→[c1, c2, M2] at 13:00 (authored 12:57, 12:58, 12:59)
    merges   #0 as A (opened 30 Jan, merged 31 Jan), #1 as S1 at 11:00 listing b1, b2,
             #2 as M2 at 13:00 listing c1, c2
    deployed D1 production at A 09:30, STG staging at S1 11:30, D2 production at M2 14:00

- D1 is production's first: it inherits #0 (not counted).
- STG is staging's first: it reaches S1 and A, so inherits #0 and #1 (not counted).
- D2 reaches M2, c2, c1, S1 (A was D1's): ships #1 and #2, counted.
- #0: no production deployment counted it, so none, and no lead time.
- #1: D2 at 14:00; first commit b1 at 09:58: 4 h 2 min = 14,520 s.
- #2: D2 at 14:00; first commit c1 at 12:57: 1 h 3 min = 3,780 s.

On the way the rows move: deployed first, the deployments ship nothing until the merges
and pushes come (each must relink); reversed, D2 is production's first seen and inherits
#1 and #2 until D1 arrives, so a relink must turn ``counted`` over and give them D2.

Each order goes to its own tenant, one event per step, every tenant's next event in the
same step, and the step waits until the worker has derived: so every event lands in a
batch of its own, after the earlier ones were derived, on one running service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from sextant.contracts import Envelope, uuid7
from sextant.insights.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

from .scenario import ALICE, BOB, T0, Tenant, hours
from .test_read_api import inbox_count, settled

OLD = T0 - timedelta(days=30)
SHIPPED = [  # (environment, deployed SHA, change request, counted)
    ("production", "A", 0, False),
    ("production", "M2", 1, True),
    ("production", "M2", 2, True),
    ("staging", "S1", 0, False),
    ("staging", "S1", 1, False),
]
CHANGES = [  # (number, its production deployment's SHA, deployed at, lead seconds)
    (0, None, None, None),
    (1, "M2", hours(5), 4 * 3600 + 2 * 60),
    (2, "M2", hours(5), 3600 + 3 * 60),
]


def history(scenario: Tenant) -> dict[str, Envelope]:
    """The repository's events by name, in the order they happened."""
    return {
        "#0": scenario.merged(0, ALICE, "feature/0", OLD - timedelta(days=1), "A", [], OLD),
        "D1": scenario.deployed("D1", "A", hours(0.5)),
        "P1": scenario.pushed("feature/1", "A", ["b1", "b2"], ALICE, hours(1)),
        "#1": scenario.merged(1, ALICE, "feature/1", hours(1), "S1", ["b1", "b2"], hours(2)),
        "P2": scenario.pushed("main", "A", ["S1"], ALICE, hours(2)),
        "STG": scenario.deployed("STG", "S1", hours(2.5), environment="staging"),
        "P3": scenario.pushed("main", "S1", ["c1", "c2", "M2"], BOB, hours(4)),
        "#2": scenario.merged(2, BOB, "feature/2", hours(3), "M2", ["c1", "c2"], hours(4)),
        "D2": scenario.deployed("D2", "M2", hours(5)),
    }


HAPPENED = ["#0", "D1", "P1", "#1", "P2", "STG", "P3", "#2", "D2"]
DEPLOYMENTS, MERGES, PUSHES = ["D1", "STG", "D2"], ["#0", "#1", "#2"], ["P1", "P2", "P3"]


def moved(names: list[str], to_front: bool = False) -> list[str]:
    """The history with ``names`` moved to its end (or front), the rest as it happened."""
    rest = [name for name in HAPPENED if name not in names]
    return [*names, *rest] if to_front else [*rest, *names]


ORDERS = {
    "as happened": HAPPENED,
    "deployments first": moved(DEPLOYMENTS, to_front=True),
    "changes last": moved(MERGES),
    "pushes last": moved(PUSHES),
    "reversed": HAPPENED[::-1],
}


@pytest.fixture
async def service(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[ServiceState, asyncpg.Connection]]:
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (_, state):
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            yield state, conn
        finally:
            await conn.close()


async def linkage(conn: asyncpg.Connection, tenant: UUID) -> tuple[list[Any], list[Any]]:
    """What each deployment shipped, and each change request's production deployment,
    deployment time and lead time, named by SHA and number (not by derived ids)."""
    shipped = await conn.fetch(
        "SELECT d.environment, d.sha, cr.number, dc.counted"
        " FROM insights.deployment_changes dc"
        " JOIN insights.deployments d ON d.tenant_id = dc.tenant_id AND d.id = dc.deployment_id"
        " JOIN insights.change_requests cr"
        "  ON cr.tenant_id = dc.tenant_id AND cr.id = dc.change_request_id"
        " WHERE dc.tenant_id = $1 ORDER BY 1, 2, 3",
        tenant,
    )
    changes = await conn.fetch(
        "SELECT cr.number, d.sha, cr.deployed_at, cr.lead_seconds"
        " FROM insights.change_requests cr"
        " LEFT JOIN insights.deployments d ON d.tenant_id = cr.tenant_id AND d.id = cr.deployment_id"
        " WHERE cr.tenant_id = $1 ORDER BY cr.number",
        tenant,
    )
    return [tuple(r) for r in shipped], [tuple(r) for r in changes]


async def test_linkage_is_the_same_whatever_order_the_events_arrive_in(
    service: tuple[ServiceState, asyncpg.Connection],
) -> None:
    state, conn = service
    scenarios = {order: Tenant(uuid7(), uuid7()) for order in ORDERS}
    events = {order: history(scenario) for order, scenario in scenarios.items()}
    for step in range(len(HAPPENED)):
        before = await inbox_count(conn)
        await state.bus.publish(
            [
                scenario.record(events[order][ORDERS[order][step]])
                for order, scenario in scenarios.items()
            ]
        )
        await settled(conn, before, len(ORDERS))

    for order, scenario in scenarios.items():
        assert await linkage(conn, scenario.tenant) == (SHIPPED, CHANGES), order

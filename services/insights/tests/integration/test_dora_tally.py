"""The DORA keys summed in PostgreSQL (reads.dora_tally) equal the rules read literally over
every record (reads.dora_inputs + dora.compute), on random histories: two repositories of
one service (``org/api`` and ``fork/api``), a nameless repository, incidents named by service
or by the SHA they blame, failed and staging deployments, bots' changes, microsecond times,
ranges that start mid-day and cut a week or a month short, windows from zero to nine days;
then some changes relinked as the linkage would after a late deployment (shipped later, or
no longer shipped) or their first commit moved by a commit list arriving late, so the lead
time PostgreSQL keeps on each row (``lead_seconds``) is checked after updates too; and the
records up to a drawn moment purged as the archive asks (their facts kept, retention.py),
so both read the kept rows as they read the live ones."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from sextant.contracts import uuid7
from sextant.contracts.events.platform import PurgeRequested
from sextant.insights.db import change_requests, deployments, incidents, reads
from sextant.insights.domain import dora
from sextant.insights.main import SPEC
from sextant.insights.retention import PURGER
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

START = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
SPAN_SECONDS = 40 * 24 * 3600
REPOSITORIES = ["org/api", "fork/api", "org/web", None]
SERVICES = ["api", "API ", "web", "db", None]


@pytest.fixture(scope="module")
async def database(postgres_url: str) -> AsyncIterator[str]:
    """One database for the module (the plugin's is per test; hypothesis runs many)."""
    name = f"t_dora_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(plain_dsn(postgres_url))
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.close()


@pytest.fixture(scope="module")
async def state(database: str, internal_keys: InternalKeys) -> AsyncIterator[ServiceState]:
    async with running_service(SPEC, service_settings(database, internal_keys)) as (_, running):
        yield running


moments = st.builds(
    lambda s, us: START + timedelta(seconds=s, microseconds=us),
    st.integers(0, SPAN_SECONDS),
    st.sampled_from([0, 0, 1, 499_999, 999_999]),
)
deployment_rows = st.lists(
    st.fixed_dictionaries(
        {
            "repository": st.sampled_from(REPOSITORIES),
            "is_production": st.booleans() | st.just(True),
            "status": st.sampled_from(["success", "success", "failure"]),
            "succeeded_at": moments,
            "workspace": st.integers(0, 1),
        }
    ),
    max_size=30,
)
change_rows = st.lists(
    st.fixed_dictionaries(
        {
            "opened_at": moments,
            "first_commit_hours": st.none() | st.integers(0, 300),
            "deployed_at": st.none() | moments,
            "bot": st.booleans(),
            "workspace": st.integers(0, 1),
        }
    ),
    max_size=20,
)
# A later write to a change already stored: relinked to a deployment at another moment (None:
# nothing ships it now) and its first commit so many hours before it opened (None: unknown).
moves = st.lists(
    st.fixed_dictionaries(
        {
            "change": st.integers(0, 19),
            "deployed_at": st.none() | moments,
            "first_commit_hours": st.none() | st.integers(0, 300),
        }
    ),
    max_size=6,
)
incident_rows = st.lists(
    st.fixed_dictionaries(
        {
            "service": st.sampled_from(SERVICES),
            "blames": st.none() | st.integers(0, 29),
            "opened_at": moments,
            "resolved_minutes": st.none() | st.integers(-30, 5000),
            "workspace": st.integers(0, 1),
        }
    ),
    max_size=10,
)


def history(
    tenant: UUID,
    workspaces: list[UUID],
    deployed: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    opened: list[dict[str, Any]],
) -> dict[sa.Table, list[dict[str, Any]]]:
    """The drawn records as the consumer would have written them."""
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        deployments: [],
        change_requests: [],
        incidents: [],
    }
    for n, d in enumerate(deployed):
        rows[deployments].append(
            {
                "tenant_id": tenant,
                "workspace_id": workspaces[d["workspace"]],
                "id": uuid7(),
                "source_kind": "github",
                "external_id": f"dep-{n}",
                "repository_id": d["repository"] or "nameless",
                "repository": d["repository"],
                "environment": "production" if d["is_production"] else "staging",
                "is_production": d["is_production"],
                "sha": f"sha-{n}",
                "status": d["status"],
                "status_at": d["succeeded_at"],
                "finished_at": d["succeeded_at"],
                "succeeded_at": d["succeeded_at"] if d["status"] == "success" else None,
                "deployed_by_is_bot": False,
            }
        )
    for n, c in enumerate(changed):
        first = c["first_commit_hours"]
        rows[change_requests].append(
            {
                "tenant_id": tenant,
                "workspace_id": workspaces[c["workspace"]],
                "id": uuid7(),
                "source_kind": "github",
                "external_id": f"pr-{n}",
                "repository_id": "org/api",
                "repository": "org/api",
                "number": n,
                "title": "change",
                "author_developer_id": uuid7(),
                "author_is_bot": c["bot"],
                "base_branch": "main",
                "head_branch": f"feature/{n}",
                "draft": False,
                "labels": [],
                "opened_at": c["opened_at"],
                "first_commit_at": None
                if first is None
                else c["opened_at"] - timedelta(hours=first, microseconds=7),
                "commit_shas": [],
                "snapshot_at": c["opened_at"],
                "deployment_id": None if c["deployed_at"] is None else uuid7(),
                "deployed_at": c["deployed_at"],
            }
        )
    for n, i in enumerate(opened):
        minutes = i["resolved_minutes"]
        rows[incidents].append(
            {
                "tenant_id": tenant,
                "workspace_id": workspaces[i["workspace"]],
                "id": uuid7(),
                "source_kind": "generic",
                "external_id": f"inc-{n}",
                "title": "errors",
                "service": i["service"],
                "deployment_sha": None if i["blames"] is None else f"sha-{i['blames']}",
                "opened_at": i["opened_at"],
                "resolved_at": None
                if minutes is None
                else i["opened_at"] + timedelta(minutes=minutes),
                "snapshot_at": i["opened_at"],
            }
        )
    return rows


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    deployed=deployment_rows,
    changed=change_rows,
    opened=incident_rows,
    moved=moves,
    since_seconds=st.integers(0, SPAN_SECONDS // 2),
    days=st.sampled_from([1, 6, 7, 15, 29, 40]),
    window_hours=st.integers(0, 9 * 24),
    include_bots=st.booleans(),
    purged_until=moments,
)
async def test_the_sums_in_the_database_equal_the_rules_read_literally(
    state: ServiceState,
    deployed: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    opened: list[dict[str, Any]],
    moved: list[dict[str, Any]],
    since_seconds: int,
    days: int,
    window_hours: int,
    include_bots: bool,
    purged_until: datetime,
) -> None:
    tenant, workspaces = uuid7(), [uuid7(), uuid7()]
    written = history(tenant, workspaces, deployed, changed, opened)
    async with state.db.transaction(tenant) as session:
        for table, values in written.items():
            if values:
                await session.execute(sa.insert(table), values)
    stored = written[change_requests]
    async with state.db.transaction(tenant) as session:
        for move in (m for m in moved if m["change"] < len(stored)):
            change = stored[move["change"]]
            hours = move["first_commit_hours"]
            await session.execute(
                sa.update(change_requests)
                .where(change_requests.c.tenant_id == tenant, change_requests.c.id == change["id"])
                .values(
                    deployment_id=None if move["deployed_at"] is None else uuid7(),
                    deployed_at=move["deployed_at"],
                    first_commit_at=None
                    if hours is None
                    else change["opened_at"] - timedelta(hours=hours, microseconds=11),
                )
            )
    async with state.db.transaction(tenant) as session:
        for data_class in ("deployments", "change_requests"):
            purge = PurgeRequested(
                manifest_id=uuid7(), data_class=data_class, older_than=purged_until
            )
            await PURGER.delete(session, tenant, purge)
    since = START + timedelta(seconds=since_seconds, microseconds=3)
    until = since + timedelta(days=days, seconds=-1)
    window = timedelta(hours=window_hours)
    async with state.db.transaction(tenant) as session:
        literal = await reads.dora_inputs(
            session, tenant, workspaces, since, until, window, include_bots
        )
        for definition in dora.DEFINITIONS.values():
            summed = await reads.dora_tally(
                session, tenant, workspaces, since, until, window, definition, include_bots
            )
            fast = dora.report(
                definition, summed, since=since, until=until, attribution_window=window
            )
            deployments_, changes, incidents_ = literal
            expected = dora.compute(
                definition,
                deployments=deployments_,
                changes=changes,
                incidents=incidents_,
                since=since,
                until=until,
                attribution_window=window,
            )
            assert fast == expected


async def test_a_changes_stored_lead_time_follows_its_relinking_and_its_first_commit(
    state: ServiceState,
) -> None:
    """Opened 4 May 10:00, first commit unknown, shipped 12:30: 2.5 h. A late deployment
    relinks it to 6 May 22:30 (2 days 12.5 h: 60.5 h); its commit list arrives with a first
    commit on 3 May 08:00 (3 days 14.5 h: 86.5 h); then nothing ships it (no lead time)."""
    tenant, workspace = uuid7(), uuid7()
    opened = datetime(2026, 5, 4, 10, tzinfo=UTC)
    row = history(tenant, [workspace], [], [dict(CHANGE, opened_at=opened)], [])[change_requests][
        0
    ] | {"deployment_id": uuid7(), "deployed_at": opened + timedelta(hours=2, minutes=30)}
    c = change_requests
    of_change = (c.c.tenant_id == tenant, c.c.id == row["id"])
    steps: list[tuple[dict[str, Any], float | None]] = [
        ({"deployed_at": datetime(2026, 5, 6, 22, 30, tzinfo=UTC)}, 60.5 * 3600),
        ({"first_commit_at": datetime(2026, 5, 3, 8, tzinfo=UTC)}, 86.5 * 3600),
        ({"deployment_id": None, "deployed_at": None}, None),
    ]
    async with state.db.transaction(tenant) as session:
        await session.execute(sa.insert(c), [row])
        assert await session.scalar(sa.select(c.c.lead_seconds).where(*of_change)) == 9000
        for values, expected in steps:
            await session.execute(sa.update(c).where(*of_change).values(**values))
            assert await session.scalar(sa.select(c.c.lead_seconds).where(*of_change)) == expected


CHANGE = {"first_commit_hours": None, "deployed_at": None, "bot": False, "workspace": 0}

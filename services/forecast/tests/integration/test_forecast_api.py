"""Attributed work-item events flow through the real bus into the projection, and the
forecast routes answer from it — per tenant, with clear errors for bad input."""

import asyncio
import math
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import httpx
import pytest
from pydantic import BaseModel

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import (
    Sprint,
    SprintScopeChanged,
    SprintStarted,
    WorkItem,
    WorkItemCreated,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import SourceRef
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.forecast import stale_scan
from sextant.forecast.handlers import HANDLERS
from sextant.forecast.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.consumer import Batched
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, OTHER_TENANT = uuid7(), uuid7()
WORKSPACE = uuid7()
SOURCE = uuid7()
# Just after midnight: the history below spaces items 3.5 days apart, so at half of them
# fall at NOW + 12 h. Anchored at an arbitrary time of day, those would cross midnight
# after noon and move between weekly buckets, and the sprint odds would depend on the
# hour the suite runs (they did: 0.78 after 12:00 UTC, >= 0.9 before).
NOW = datetime.now(UTC).replace(hour=0, minute=1, second=0, microsecond=0)


def item(key: str, status: str, category: str, created: datetime) -> WorkItem:
    return WorkItem(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id=key),
        key=key,
        title=f"Story {key}",
        item_type="story",
        status=status,
        status_category=category,
        created_at=created,
    )


def attributed(event: BaseModel, type_name: str, key: str) -> Envelope:
    data = ActivityAttributed(
        original_id=uuid7(), original_type=type_name, original=event.model_dump(mode="json")
    )
    return Envelope.wrap(
        data, source="/sextant/identity", tenantid=TENANT, workspaceid=WORKSPACE, subject=key
    )


def created(key: str, at: datetime) -> Envelope:
    event = WorkItemCreated(work_item=item(key, "To Do", "todo", at), occurred_at=at)
    return attributed(event, "sextant.activity.work_item.created.v1", key)


MOVES = {
    "in_progress": ("To Do", "todo", "In Progress"),
    "done": ("In Progress", "in_progress", "Done"),
}


def moved(key: str, to_category: str, at: datetime, created_at: datetime) -> Envelope:
    from_status, from_category, to_status = MOVES[to_category]
    event = WorkItemTransitioned(
        work_item=item(key, to_status, to_category, created_at),
        from_status=from_status,
        to_status=to_status,
        from_category=from_category,
        to_category=to_category,
        occurred_at=at,
    )
    return attributed(event, "sextant.activity.work_item.transitioned.v1", key)


def history_events() -> list[Envelope]:
    """60 stories done over 30 weeks (1-5 days in progress), 6 in progress (one for 60
    days), 3 not started, and two sprints: one comfortable, one hopeless."""
    events = []
    for i in range(60):
        # Done every 3.5 days, so every calendar week holds two whatever weekday NOW is;
        # 1-5 days in progress each. (Done at 2-6 days after evenly spaced starts, the
        # weekly counts, and so the sprint odds, changed with the weekday: 0.88 on a
        # Wednesday.) The last is done half a day before NOW.
        key, done = f"PROJ-{i}", NOW - timedelta(days=207 - 3.5 * i)
        started = done - timedelta(days=1 + i % 5)
        start = started - timedelta(days=1)
        events += [
            created(key, start),
            moved(key, "in_progress", started, start),
            moved(key, "done", done, start),
        ]
    for i, days in enumerate([1, 2, 2, 3, 1, 60]):
        key, start = f"WIP-{i}", NOW - timedelta(days=days + 1)
        events += [
            created(key, start),
            moved(key, "in_progress", NOW - timedelta(days=days), start),
        ]
    events += [created(f"TODO-{i}", NOW) for i in range(3)]
    sprint = Sprint(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id="S1"),
        name="Sprint 1",
        starts_at=NOW - timedelta(days=9),
        ends_at=NOW + timedelta(days=14),
    )
    events.append(
        attributed(
            SprintStarted(
                sprint=sprint,
                item_keys=["WIP-0", "WIP-1", "TODO-0", "PROJ-59"],
                occurred_at=NOW - timedelta(days=9),
            ),
            "sextant.activity.sprint.started.v1",
            "sprint-S1",
        )
    )
    crunch = Sprint(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id="S2"),
        name="Sprint 2",
        starts_at=NOW - timedelta(days=9),
        ends_at=NOW + timedelta(days=5),
    )
    events.append(
        attributed(
            SprintStarted(
                sprint=crunch,
                item_keys=["WIP-2", "WIP-3", "TODO-1", "TODO-2"],
                occurred_at=NOW - timedelta(days=9),
            ),
            "sextant.activity.sprint.started.v1",
            "sprint-S2",
        )
    )
    return events


@pytest.fixture
async def running_forecast(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceState]]:
    """The forecast service with the history projected, and a manager's token set."""
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        records = [
            record_for(e, ACTIVITY_ATTRIBUTED.name, entity_key(TENANT, WORKSPACE, e.subject or ""))
            for e in history_events()
        ]
        await state.bus.publish(records)
        dsn = plain_dsn(database_url)
        conn = await asyncpg.connect(dsn)
        for _ in range(200):
            transitions = await conn.fetchval("SELECT count(*) FROM forecast.work_item_transitions")
            sprint_items = await conn.fetchval("SELECT count(*) FROM forecast.sprint_items")
            if transitions == 195 and sprint_items == 8:
                break
            await asyncio.sleep(0.1)
        await conn.close()
        token = internal_keys.signer.mint(
            service="forecast", subject="u1", role="manager", tenant_id=TENANT
        )
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, state


@pytest.fixture
def forecast(running_forecast: tuple[httpx.AsyncClient, ServiceState]) -> httpx.AsyncClient:
    return running_forecast[0]


SCOPE = f"workspace:{WORKSPACE}"


async def test_sprint_forecast_counts_remaining_work_and_gives_a_probability(
    forecast: httpx.AsyncClient,
) -> None:
    response = await forecast.get("/v1/sprints/S1/forecast", params={"scope": SCOPE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["remaining"] == {"not_started": 1, "in_progress": 2, "done": 1}
    assert len(body["in_progress_finish_probabilities"]) == 2
    # three items left, two weeks at a steady two items a week: near certain
    assert body["probability_done"] >= 0.9
    crunch = (await forecast.get("/v1/sprints/S2/forecast", params={"scope": SCOPE})).json()
    # four items left in five days at two a week: near hopeless
    assert crunch["remaining"] == {"not_started": 2, "in_progress": 2, "done": 0}
    assert crunch["probability_done"] <= 0.1
    missing = await forecast.get("/v1/sprints/S404/forecast", params={"scope": SCOPE})
    assert missing.status_code == 404 and "S404" in missing.json()["detail"]


async def test_sprint_forecast_takes_the_id_the_sprint_list_gives_out(
    forecast: httpx.AsyncClient,
) -> None:
    listed = (await forecast.get("/v1/sprints", params={"scope": SCOPE})).json()["items"]
    crunch = next(s for s in listed if s["source_sprint_id"] == "S2")
    by_id = await forecast.get(
        f"/v1/sprints/{crunch['id']}/forecast", params={"scope": SCOPE, "seed": 1}
    )
    by_tool_id = await forecast.get("/v1/sprints/S2/forecast", params={"scope": SCOPE, "seed": 1})
    assert by_id.status_code == 200, by_id.text
    # The same sprint either way (the tool's id still works), and the reply names both ids.
    assert by_id.json() == by_tool_id.json()
    assert (by_id.json()["id"], by_id.json()["sprint_id"]) == (crunch["id"], "S2")
    assert by_id.json()["remaining"] == {"not_started": 2, "in_progress": 2, "done": 0}


async def test_backtest_says_when_history_is_too_short(forecast: httpx.AsyncClient) -> None:
    body = (await forecast.get("/v1/forecasts/backtest", params={"scope": SCOPE})).json()
    assert body["calibration"]["available"] is False
    assert body["calibration"]["kind"] == "how_many"
    assert body["when_calibration"]["kind"] == "when"
    assert body["when_calibration"]["available"] is False
    assert body["targets"]["85"] == [0.8, 0.9]


async def test_how_many_answers_from_projected_history_with_its_inputs(
    forecast: httpx.AsyncClient,
) -> None:
    until = (NOW + timedelta(weeks=4)).date().isoformat()
    response = await forecast.get(
        "/v1/forecasts/how-many", params={"scope": SCOPE, "until": until, "seed": 3}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["horizon_weeks"] == 4
    p = {int(k): v for k, v in body["percentiles"].items()}
    assert p[95] <= p[85] <= p[50] <= 16  # about two stories a week
    assert p[50] >= 4
    assert sum(body["inputs"]["history_weeks"]) > 0
    # a few weeks of history: too few to test whether its weeks are independent, and no
    # past origin with a full window to choose a blend by
    assert body["inputs"]["model"] == (
        "blocks and level: too little past to test its weeks (under 52); "
        "too little past to choose a blend (0 of 8 past origins scored)"
    )
    assert body["inputs"]["options"]["block_weeks"] == 4
    assert (
        body["calibration"]["available"] is False
        and "weeks of history" in body["calibration"]["reason"]
    )


async def test_when_gives_dates_later_for_more_certainty(forecast: httpx.AsyncClient) -> None:
    response = await forecast.get("/v1/forecasts/when", params={"scope": SCOPE, "items": 10})
    assert response.status_code == 200, response.text
    dates = response.json()["percentiles"]
    assert dates["50"] <= dates["85"] <= dates["95"]
    # dates to the day: the fractional weeks' day, rounded up
    today = datetime.now(UTC).date()
    for p, weeks in response.json()["percentile_weeks"].items():
        days = (date.fromisoformat(dates[p]) - today).days
        assert days == math.ceil(weeks * 7 - 1e-9), (p, weeks, dates[p])
    # the answer comes with the backtest of "when" forecasts (too little history here)
    calibration = response.json()["calibration"]
    assert calibration["kind"] == "when" and calibration["available"] is False
    assert "needs 88 weeks of history to backtest when forecasts" in calibration["reason"]


async def test_stale_flags_the_outlier_with_an_explanation_and_counts_dismissals(
    forecast: httpx.AsyncClient, internal_keys: InternalKeys
) -> None:
    flagged = (await forecast.get("/v1/work-items/stale", params={"scope": SCOPE})).json()
    assert [i["key"] for i in flagged["items"]] == ["WIP-5"]
    # In progress since NOW - 60 days; NOW is today's 00:01, so the age grows through the day.
    age = re.search(r"(\d+\.\d) days in 'In Progress'", flagged["items"][0]["explanation"])
    assert age is not None
    expected = (datetime.now(UTC) - (NOW - timedelta(days=60))) / timedelta(days=1)
    assert abs(float(age[1]) - expected) < 0.1
    partner = internal_keys.signer.mint(
        service="forecast", subject="p", role="partner", tenant_id=TENANT
    )
    refused = await forecast.post(
        "/v1/work-items/WIP-5/stale-dismissal",
        params={"scope": SCOPE},
        headers={"Authorization": f"Bearer {partner}"},
    )
    assert refused.status_code == 403  # partners read forecasts; they do not triage
    assert (
        await forecast.post("/v1/work-items/WIP-5/stale-dismissal", params={"scope": SCOPE})
    ).status_code == 204
    after = (await forecast.get("/v1/work-items/stale", params={"scope": SCOPE})).json()
    assert after["items"] == [] and after["dismissed"] == 1
    missing = await forecast.post("/v1/work-items/NOPE-1/stale-dismissal", params={"scope": SCOPE})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        (
            "/v1/forecasts/how-many",
            {"scope": "team:1", "until": "2099-01-01"},
            400,
            "scope must be",
        ),
        (
            "/v1/forecasts/how-many",
            {"scope": f"view:{uuid.uuid4()}", "until": "2099-01-01"},
            400,
            "gateway",
        ),
        (
            "/v1/forecasts/how-many",
            {"scope": "workspace:not-a-uuid", "until": "2099-01-01"},
            400,
            "not a workspace id",
        ),
        (
            "/v1/forecasts/how-many",
            {"scope": SCOPE, "until": "2001-01-01"},
            400,
            "must be after today",
        ),
        ("/v1/forecasts/how-many", {"scope": SCOPE}, 422, "until"),
        (  # 416,000 weeks x 10,000 trials: gigabytes, before the horizon was bounded
            "/v1/forecasts/how-many",
            {"scope": SCOPE, "until": "9999-12-31"},
            400,
            "must lie within 260 weeks of today",
        ),
        ("/v1/forecasts/when", {"scope": SCOPE, "items": 0}, 422, "items"),
        ("/v1/forecasts/when", {"scope": SCOPE, "items": 5, "seed": -1}, 422, "seed"),
        (
            "/v1/forecasts/how-many",
            {"scope": SCOPE, "until": (NOW + timedelta(weeks=4)).date().isoformat(), "seed": 2**63},
            422,
            "seed",
        ),
        ("/v1/forecasts/when", {"scope": SCOPE, "items": 5, "trials": 10}, 422, "trials"),
    ],
)
async def test_bad_input_gets_a_problem_saying_what_is_wrong(
    forecast: httpx.AsyncClient, path: str, params: dict[str, str | int], status: int, says: str
) -> None:
    response = await forecast.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


async def test_another_tenant_sees_no_history(
    forecast: httpx.AsyncClient, internal_keys: InternalKeys
) -> None:
    token = internal_keys.signer.mint(
        service="forecast", subject="u2", role="manager", tenant_id=OTHER_TENANT
    )
    response = await forecast.get(
        "/v1/forecasts/when",
        params={"scope": SCOPE, "items": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422
    assert "no completed work items" in response.json()["detail"]
    stale = await forecast.get(
        "/v1/work-items/stale",
        params={"scope": SCOPE},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert stale.json()["items"] == []


async def test_an_item_turning_stale_is_announced_once_on_the_bus(
    running_forecast: tuple[httpx.AsyncClient, ServiceState], database_url: str
) -> None:
    _, state = running_forecast
    assert await stale_scan.scan_once(state) == 1
    assert await stale_scan.scan_once(state) == 0  # already flagged
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(100):
            published = dict(
                await conn.fetch(
                    "SELECT topic, count(*) FROM sextant_bus.records "
                    "WHERE topic IN ('sextant.notifications', 'sextant.forecast') GROUP BY topic"
                )
            )
            if len(published) == 2:
                break
            await asyncio.sleep(0.1)
        headers = await conn.fetchval(
            "SELECT headers::text FROM sextant_bus.records WHERE topic = 'sextant.notifications'"
        )
    finally:
        await conn.close()
    assert published == {"sextant.notifications": 1, "sextant.forecast": 1}
    assert (
        str(TENANT)
        in __import__("base64")
        .b64decode(next(v for n, v in __import__("json").loads(headers) if n == "ce_tenantid"))
        .decode()
    )


async def test_history_gives_throughput_and_cycle_time_by_the_callers_definition(
    forecast: httpx.AsyncClient,
) -> None:
    default = (
        await forecast.get("/v1/forecasts/history", params={"scope": SCOPE, "window_weeks": 8})
    ).json()
    assert len(default["weeks"]) == len(default["throughput"]) == 8
    assert sum(default["throughput"]) > 0
    assert len(default["days"]) == len(default["daily_throughput"]) == 56
    assert default["days"][0] == default["weeks"][0]
    assert sum(default["daily_throughput"]) == sum(default["throughput"])  # same items, finer
    [stories] = default["cycle_time"]
    assert stories["item_type"] == "story" and stories["items"] == 60
    assert 1 <= stories["percentiles_days"]["50"] <= stories["percentiles_days"]["95"] <= 5
    # counting from creation ("To Do") makes every cycle one day longer
    from_todo = (
        await forecast.get(
            "/v1/forecasts/history", params={"scope": SCOPE, "started": "To Do", "done": "Done"}
        )
    ).json()
    assert from_todo["cycle_time"][0]["percentiles_days"]["50"] > stories["percentiles_days"]["50"]


async def test_a_forecast_samples_the_weeks_the_history_counts(
    forecast: httpx.AsyncClient,
) -> None:
    """The forecast's weeks are counted by PostgreSQL, the history's item by item: the same
    Monday-to-Sunday UTC weeks (half the items here are done at 00:01, on week edges)."""
    history = (
        await forecast.get("/v1/forecasts/history", params={"scope": SCOPE, "window_weeks": 52})
    ).json()
    until = (NOW + timedelta(weeks=4)).date().isoformat()
    reply = (
        await forecast.get("/v1/forecasts/how-many", params={"scope": SCOPE, "until": until})
    ).json()
    sampled = reply["inputs"]["history_weeks"]
    this_monday = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), time(), UTC)
    done_before = [i for i in range(60) if NOW - timedelta(days=207 - 3.5 * i) < this_monday]
    assert sum(sampled) == len(done_before) >= 58  # the stories done before this week
    assert 25 <= len(sampled) <= 31 and sampled[0] > 0
    assert history["throughput"][-len(sampled) :] == sampled


async def test_a_revised_fact_updates_the_item_without_repeating_its_history(
    running_forecast: tuple[httpx.AsyncClient, ServiceState], database_url: str
) -> None:
    """After a mapping fix ingest says a fact again under a new id (an outage now an
    incident): the item takes the new meaning, its status history gains nothing."""
    _, state = running_forecast
    start = NOW - timedelta(days=207 - 3.5 * 0) - timedelta(days=2)  # PROJ-0's creation
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        [original] = await conn.fetch(
            "SELECT at, created_at FROM forecast.work_item_transitions t"
            " JOIN forecast.work_items i USING (tenant_id, workspace_id, key)"
            " WHERE key = 'PROJ-0' AND from_status IS NULL"
        )
        assert original["at"] == original["created_at"] == start
        revised = WorkItemCreated(
            work_item=item("PROJ-0", "To Do", "todo", start).model_copy(
                update={"item_type": "incident"}
            ),
            occurred_at=start,
        )
        envelope = attributed(revised, "sextant.activity.work_item.created.v1", "PROJ-0")
        await state.bus.publish(
            [
                record_for(
                    envelope, ACTIVITY_ATTRIBUTED.name, entity_key(TENANT, WORKSPACE, "PROJ-0")
                )
            ]
        )
        for _ in range(100):
            kind = await conn.fetchval(
                "SELECT item_type FROM forecast.work_items WHERE key = 'PROJ-0'"
            )
            if kind == "incident":
                break
            await asyncio.sleep(0.05)
        assert kind == "incident"
        assert await conn.fetchval("SELECT count(*) FROM forecast.work_item_transitions") == 195
    finally:
        await conn.close()


async def test_a_batch_of_one_tenants_events_is_projected_in_order_in_one_transaction(
    database_url: str, internal_keys: InternalKeys
) -> None:
    """Forecast's activity handler is Batched: an item created, started and finished, and
    a second item created, handed over together, leave the history event by event."""
    handler = HANDLERS[ACTIVITY_ATTRIBUTED.name]
    assert isinstance(handler, Batched)
    start = NOW - timedelta(days=3)
    batch = [
        created("BATCH-1", start),
        moved("BATCH-1", "in_progress", start + timedelta(days=1), start),
        moved("BATCH-1", "done", start + timedelta(days=2), start),
        created("BATCH-2", start),
    ]
    settings = service_settings(database_url, internal_keys)
    async with running_service(SPEC, settings) as (_, state), state.db.transaction(TENANT) as s:
        await handler.handle_many(s, batch)
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT key, from_status, to_status FROM forecast.work_item_transitions"
            " WHERE key LIKE 'BATCH-%' ORDER BY key, at"
        )
        statuses = await conn.fetch(
            "SELECT key, status FROM forecast.work_items WHERE key LIKE 'BATCH-%' ORDER BY key"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [
        ("BATCH-1", None, "To Do"),
        ("BATCH-1", "To Do", "In Progress"),
        ("BATCH-1", "In Progress", "Done"),
        ("BATCH-2", None, "To Do"),
    ]
    assert [tuple(r) for r in statuses] == [("BATCH-1", "Done"), ("BATCH-2", "To Do")]


async def test_a_scope_change_after_the_sprint_started_keeps_the_sprints_dates(
    database_url: str, internal_keys: InternalKeys
) -> None:
    """Jira's changelog names a sprint, never its dates: an issue added to a running sprint
    must not wipe the dates its start gave (the demo's sprints all lost them so)."""
    handler = HANDLERS[ACTIVITY_ATTRIBUTED.name]
    assert isinstance(handler, Batched)
    starts, ends = NOW - timedelta(days=3), NOW + timedelta(days=11)
    ref = SourceRef(kind="jira", source_id=SOURCE, external_id="S7")
    batch = [
        attributed(
            SprintStarted(
                sprint=Sprint(source=ref, name="Sprint 7", starts_at=starts, ends_at=ends),
                occurred_at=starts,
            ),
            "sextant.activity.sprint.started.v1",
            "sprint-S7",
        ),
        attributed(
            SprintScopeChanged(
                sprint=Sprint(source=ref, name="Sprint 7"),
                added_keys=["BATCH-7"],
                occurred_at=starts + timedelta(hours=2),
            ),
            "sextant.activity.sprint.scope_changed.v1",
            "sprint-S7",
        ),
    ]
    settings = service_settings(database_url, internal_keys)
    async with running_service(SPEC, settings) as (_, state), state.db.transaction(TENANT) as s:
        await handler.handle_many(s, batch)
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        sprint = await conn.fetchrow(
            "SELECT name, starts_at, ends_at FROM forecast.sprints WHERE sprint_id = 'S7'"
        )
        members = await conn.fetch("SELECT key FROM forecast.sprint_items WHERE sprint_id = 'S7'")
    finally:
        await conn.close()
    assert tuple(sprint) == ("Sprint 7", starts, ends)
    assert [m["key"] for m in members] == ["BATCH-7"]


async def test_a_done_stays_done_whatever_the_order_and_a_same_instant_move_counts_in_order(
    database_url: str, internal_keys: InternalKeys
) -> None:
    """The rules a lost Done was suspected of breaking, in one batch: a Done handed over
    before the start it follows still ends the item Done (the start is older), and two
    moves at the same instant, in the order sent, end in the later one."""
    handler = HANDLERS[ACTIVITY_ATTRIBUTED.name]
    assert isinstance(handler, Batched)
    start = NOW - timedelta(days=3)
    same = start + timedelta(days=1)
    batch = [
        created("LATE-1", start),
        moved("LATE-1", "done", start + timedelta(days=2), start),
        moved("LATE-1", "in_progress", start + timedelta(days=1), start),
        created("SAME-1", start),
        moved("SAME-1", "in_progress", same, start),
        moved("SAME-1", "done", same, start),
    ]
    settings = service_settings(database_url, internal_keys)
    async with running_service(SPEC, settings) as (_, state), state.db.transaction(TENANT) as s:
        await handler.handle_many(s, batch)
    dsn = plain_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        items = await conn.fetch(
            "SELECT key, status, status_category, state_since FROM forecast.work_items"
            " WHERE key IN ('LATE-1', 'SAME-1') ORDER BY key"
        )
        history = await conn.fetchval(
            "SELECT count(*) FROM forecast.work_item_transitions WHERE key = 'SAME-1'"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in items] == [
        ("LATE-1", "Done", "done", start + timedelta(days=2)),
        ("SAME-1", "Done", "done", same),
    ]
    assert history == 3  # created, started, done: the same-instant moves are two rows

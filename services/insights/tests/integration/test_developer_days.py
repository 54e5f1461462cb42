"""DeveloperMetrics through the real consumer: the scenario's days worked by hand, an
identity merge summing two histories and a split and alias moves giving each side back its
own, MetricsComputed only when a day's figures change, and the same rows whatever the
order or repetition of the events (a property test)."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sextant.contracts import Envelope, from_kafka_binary, uuid7
from sextant.contracts.events.platform import AliasMoved, DevelopersMerged, DeveloperSplit
from sextant.insights.db import day_queue, derivation_queue
from sextant.runtime import statistics
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import Role

from .scenario import ALIASES, ALICE, ALICE_OLD, BOB, BOT, CAROL, DAVE, Tenant, hours
from .test_dora_api import history
from .test_read_api import TENANT, Running, inbox_count, publish, running, settled, until_true

__all__ = ["history", "running"]  # the fixtures, imported to be reused

DAY = date(2026, 3, 2)
COLUMNS = (
    "commits, changes_opened, changes_merged, reviews_given, review_latency_hours_sum, "
    "review_latency_count, cycle_time_hours, cycle_time_p50_hours, cycle_time_p85_hours, wip"
)


async def days(
    conn: asyncpg.Connection, tenant: UUID, developer: UUID
) -> dict[date, tuple[Any, ...]]:
    rows = await conn.fetch(
        f"SELECT day, {COLUMNS} FROM insights.developer_days"
        " WHERE tenant_id = $1 AND developer_id = $2 ORDER BY day",
        tenant,
        developer,
    )
    return {r["day"]: tuple(r)[1:] for r in rows}


async def published(conn: asyncpg.Connection, topic: str, tenant: UUID) -> list[Envelope]:
    """What the tenant's events published on ``topic`` so far (once the outbox relay has
    published everything committed)."""

    async def drained() -> bool:
        waiting: int = await conn.fetchval("SELECT count(*) FROM insights.outbox")
        return waiting == 0

    await until_true(drained)
    rows = await conn.fetch(
        "SELECT headers::text AS h, value FROM sextant_bus.records"
        ' WHERE topic = $1 AND key LIKE $2 ORDER BY "offset"',
        topic,
        f"{tenant}/%",
    )
    return [
        from_kafka_binary([(n, base64.b64decode(v)) for n, v in json.loads(r["h"])], r["value"])
        for r in rows
    ]


async def computed(conn: asyncpg.Connection, tenant: UUID) -> list[Envelope]:
    """The MetricsComputed events the tenant's days published so far."""
    return await published(conn, "sextant.insights", tenant)


async def feed(running: Running, scenario: Tenant, envelopes: list[Envelope]) -> None:
    before = await inbox_count(running.conn)
    await publish(running.state, scenario, envelopes)
    await settled(running.conn, before, len(envelopes))


async def test_the_scenario_s_days_worked_by_hand(history: Running) -> None:
    conn = history.conn
    # Alice (with alice-old merged into her): #0 opened 30 Jan, merged 31 Jan with its
    # commit A (no commit of its head branch seen: 24 h from its opening); on 2 March b1,
    # b2 (10:58, 10:59) and S1 (14:59), #1 opened 11:30 and merged 15:00: 4 h 2 min from b1.
    assert await days(conn, TENANT, ALICE) == {
        date(2026, 1, 30): (0, 1, 0, 0, 0.0, 0, [], None, None, 1),
        date(2026, 1, 31): (1, 0, 1, 0, 0.0, 0, [24.0], 24.0, 24.0, 0),
        DAY: (3, 1, 1, 0, 0.0, 0, [4.033333], 4.033333, 4.033333, 0),
    }
    assert await days(conn, TENANT, ALICE_OLD) == {}
    # Bob: r1', r2' (18:58, 18:59); reviewed #1 at 14:00, 2.5 h after it opened; #3 opened
    # 17:00, merged 19:00, its listed commits never pushed: 2 h from its opening.
    assert await days(conn, TENANT, BOB) == {
        DAY: (2, 1, 1, 1, 2.5, 1, [2.0], 2.0, 2.0, 0),
    }
    # The bot: c1, c2 (16:58, 16:59) and M2 (17:59); reviewed #1 at 12:00 (0.5 h); #2
    # opened 17:00, merged 18:00, 1 h 2 min after c1.
    assert await days(conn, TENANT, BOT) == {
        DAY: (3, 1, 1, 1, 0.5, 1, [1.033333], 1.033333, 1.033333, 0),
    }
    announced = {
        (e.subject, e.data["period_start"]): e.data["metrics"] for e in await computed(conn, TENANT)
    }
    assert announced[(f"developer:{ALICE}", "2026-03-02T00:00:00Z")] == {
        "commits": 3,
        "changes_opened": 1,
        "changes_merged": 1,
        "reviews_given": 0,
        "review_latency_hours_sum": 0.0,
        "review_latency_count": 0,
        "cycle_time_p50_hours": 4.033333,
        "cycle_time_p85_hours": 4.033333,
        "wip": 0,
    }


def carol_and_dave(scenario: Tenant) -> list[Envelope]:
    """Carol and Dave each with their own day (nothing between them), 2 March: Carol
    pushes k1, k2 (9:58, 9:59), opens #10 at 10:30 (left open) and reviews Bob's #12 at
    12:00, an hour after it opened; Dave pushes d1 (12:59), opens #11 at 13:30 and merges it
    at 15:00, 2 h 1 min after d1."""
    return [
        scenario.pushed("feature/10", None, ["k1", "k2"], CAROL, hours(1)),
        scenario.opened(10, CAROL, "feature/10", hours(1.5)),
        scenario.opened(12, BOB, "feature/12", hours(2)),
        scenario.reviewed(12, BOB, "feature/12", hours(2), CAROL, hours(3)),
        scenario.pushed("feature/11", None, ["d1"], DAVE, hours(4)),
        scenario.opened(11, DAVE, "feature/11", hours(4.5)),
        scenario.merged(11, DAVE, "feature/11", hours(4.5), "D1M", ["d1"], hours(6)),
    ]


CAROL_ALONE = {DAY: (2, 1, 0, 1, 1.0, 1, [], None, None, 1)}
DAVE_ALONE = {DAY: (1, 1, 1, 0, 0.0, 0, [2.016667], 2.016667, 2.016667, 0)}
BOTH = {DAY: (3, 2, 1, 1, 1.0, 1, [2.016667], 2.016667, 2.016667, 1)}


async def test_identity_changes_recompute_each_side_s_history(running: Running) -> None:
    tenant, workspace = uuid7(), uuid7()
    scenario = Tenant(tenant, workspace)
    conn = running.conn
    await feed(running, scenario, carol_and_dave(scenario))
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await days(conn, tenant, DAVE) == DAVE_ALONE
    before = {e.id for e in await computed(conn, tenant)}

    merge = DevelopersMerged(survivor_id=CAROL, merged_ids=[DAVE], rule="manual")
    await feed(running, scenario, [scenario.identity(merge, "dev-carol")])
    assert await days(conn, tenant, CAROL) == BOTH  # the sum of the two
    assert await days(conn, tenant, DAVE) == {}
    after_merge = await computed(conn, tenant)
    # Carol's day changed and Dave's went away: two announcements, Dave's all zero.
    new = sorted(
        (e.subject or "", e.data["metrics"]["commits"]) for e in after_merge if e.id not in before
    )
    assert new == sorted([(f"developer:{CAROL}", 3), (f"developer:{DAVE}", 0)])

    # The same merge again (a copy under a new envelope id) changes no figure: no event.
    await feed(running, scenario, [scenario.identity(merge, "dev-carol")])
    assert len(await computed(conn, tenant)) == len(after_merge)

    split = DeveloperSplit(
        from_developer_id=CAROL, new_developer_id=DAVE, alias_ids=[ALIASES[DAVE]]
    )
    await feed(running, scenario, [scenario.identity(split, "dev-carol")])
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await days(conn, tenant, DAVE) == DAVE_ALONE

    moved = AliasMoved(alias_id=ALIASES[CAROL], from_developer_id=CAROL, to_developer_id=DAVE)
    await feed(running, scenario, [scenario.identity(moved, "dev-carol")])
    assert await days(conn, tenant, DAVE) == BOTH
    assert await days(conn, tenant, CAROL) == {}

    back = AliasMoved(alias_id=ALIASES[CAROL], from_developer_id=DAVE, to_developer_id=CAROL)
    await feed(running, scenario, [scenario.identity(back, "dev-carol")])
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await days(conn, tenant, DAVE) == DAVE_ALONE


async def test_batches_queue_days_the_worker_recomputes_each_once(running: Running) -> None:
    """A projecting batch writes no day: it queues the days it touched, and the worker
    recomputes each (developer, day) once however many batches queued it."""
    tenant, workspace = uuid7(), uuid7()
    scenario = Tenant(tenant, workspace)
    conn = running.conn
    worker = running.state.extras["day_worker"]
    await worker.stop()  # drained by hand below
    for envelope in carol_and_dave(scenario):  # one batch each
        before = await inbox_count(conn)
        await publish(running.state, scenario, [envelope])
        await until_true(lambda before=before: _more(conn, before))
    assert await days(conn, tenant, CAROL) == {}
    queued = await conn.fetch(
        "SELECT developer_id, day FROM insights.metrics_queue WHERE tenant_id = $1", tenant
    )
    # Carol's push, opening and review each queued her day; Bob's opening his, Dave's three
    # events his.
    assert sum(1 for r in queued if r["developer_id"] == CAROL and r["day"] == DAY) >= 3
    assert {r["developer_id"] for r in queued} == {CAROL, DAVE, BOB}

    assert await worker.drain() >= len(queued)
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await days(conn, tenant, DAVE) == DAVE_ALONE
    assert await conn.fetchval("SELECT count(*) FROM insights.metrics_queue") == 0
    subjects = sorted(e.subject or "" for e in await computed(conn, tenant))
    assert subjects == sorted(f"developer:{d}" for d in (BOB, CAROL, DAVE))


async def test_batches_queue_repositories_the_worker_derives_once_before_the_days(
    running: Running,
) -> None:
    """A projecting batch derives nothing: it queues the repository it touched, and one
    round of the worker merges every batch's row of it, derives the first commits and
    reviews, then recomputes the days from them (Dave's cycle time runs from d1, not from
    his opening at 13:30)."""
    tenant, workspace = uuid7(), uuid7()
    scenario = Tenant(tenant, workspace)
    conn = running.conn
    worker = running.state.extras["day_worker"]
    await worker.stop()  # one round by hand below
    for envelope in carol_and_dave(scenario):  # one batch each
        before = await inbox_count(conn)
        await publish(running.state, scenario, [envelope])
        await until_true(lambda before=before: _more(conn, before))
    queued = await conn.fetch(
        "SELECT workspace_id, repository_id FROM insights.derivation_queue WHERE tenant_id = $1",
        tenant,
    )
    assert [tuple(r) for r in queued] == [(workspace, "r1")] * 7
    derived = "SELECT number, first_commit_at, first_review_at FROM insights.change_requests"
    derived += " WHERE tenant_id = $1 ORDER BY number"
    assert [tuple(r) for r in await conn.fetch(derived, tenant)] == [
        (10, None, None),
        (11, None, None),
        (12, None, None),
    ]
    day_keys = await conn.fetch(
        "SELECT id FROM insights.metrics_queue WHERE tenant_id = $1", tenant
    )
    async with running.state.db.transaction(tenant) as session:
        noted = (await derivation_queue.take(session, tenant, 100)).noted
    assert list(noted.repositories) == [(workspace, "r1")]
    touch = noted.repositories[workspace, "r1"]
    assert touch.branches == {"feature/10", "feature/11"}
    assert touch.shas == {"k1", "k2", "d1"}
    assert len(touch.changes) == 3 and touch.linked

    # one round: the 7 derivations, the queued days and Dave's merge day once more (d1's
    # push may have moved #11's first commit: its merge day is queued and taken at once)
    assert await worker.round(tenant) == 7 + len(day_keys) + 1
    assert [tuple(r) for r in await conn.fetch(derived, tenant)] == [
        (10, hours(1) - timedelta(minutes=2), None),  # k1, 9:58
        (11, hours(4) - timedelta(minutes=1), None),  # d1, 12:59
        (12, None, hours(3)),  # Carol's review at 12:00
    ]
    assert await conn.fetchval("SELECT count(*) FROM insights.derivation_queue") == 0
    assert await conn.fetchval("SELECT count(*) FROM insights.metrics_queue") == 0
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await days(conn, tenant, DAVE) == DAVE_ALONE


async def test_the_worker_analyzes_a_table_grown_past_its_statistics(running: Running) -> None:
    """A round analyzes the tables its recompute reads that hold twice the rows their
    statistics say (here reviews, never analyzed, as in a rebuild's first minute), as the
    app role, before the recompute; once analyzed, not again until they double."""
    conn = running.conn
    worker = running.state.extras["day_worker"]
    await worker.stop()  # rounds by hand below
    tenant = uuid7()
    await conn.execute(
        "INSERT INTO insights.reviews (tenant_id, change_request_id, review_id, workspace_id,"
        " reviewer_is_bot, state, submitted_at)"
        " SELECT $1, $1, 'r' || i, $1, false, 'approved', now() FROM generate_series(1, $2) i",
        tenant,
        statistics.FLOOR,
    )
    await conn.execute("SELECT pg_stat_force_next_flush()")  # the rows counted at once
    await conn.execute("SELECT pg_clear_relation_stats('insights', 'reviews')")
    planned = "SELECT reltuples FROM pg_class WHERE oid = 'insights.reviews'::regclass"
    analyzed = (
        "SELECT analyze_count FROM pg_stat_user_tables"
        " WHERE schemaname = 'insights' AND relname = 'reviews'"
    )
    assert await conn.fetchval(planned) == -1
    before = await conn.fetchval(analyzed)

    for _ in range(2):
        async with running.state.db.transaction(tenant) as session:
            await day_queue.note(session, tenant, {(CAROL, DAY)})
        assert await worker.round(tenant) == 1
    assert await conn.fetchval(planned) >= statistics.FLOOR
    assert await conn.fetchval(analyzed) == before + 1


async def _more(conn: asyncpg.Connection, before: int) -> bool:
    return await inbox_count(conn) > before


def _copy(envelope: Envelope) -> Envelope:
    """The same event under a new envelope id (the inbox does not know it)."""
    return envelope.model_copy(update={"id": uuid7()})


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_days_do_not_depend_on_order_or_replay(running: Running, data: st.DataObject) -> None:
    tenant, workspace = uuid7(), uuid7()
    scenario = Tenant(tenant, workspace)
    events = [
        *carol_and_dave(scenario),
        scenario.pushed("feature/11", "d1", ["d2"], CAROL, hours(5)),  # Carol on Dave's branch
        scenario.reviewed(11, DAVE, "feature/11", hours(4.5), CAROL, hours(5.5)),
    ]
    shuffled = data.draw(st.permutations(events))
    replayed = data.draw(st.lists(st.sampled_from(events), max_size=4))
    # One at a time, so each later event lands in its own batch after the earlier ones.
    for envelope in [*shuffled, *(_copy(e) for e in replayed)]:
        await feed(running, scenario, [envelope])
    # Carol: k1, k2 and d2 (13:59 on Dave's branch), #10, reviews of #12 (1 h) and of #11
    # (14:30, 1 h after it opened); Dave as alone: #11's merge lists d1 only.
    assert await days(running.conn, tenant, CAROL) == {DAY: (3, 1, 0, 2, 2.0, 2, [], None, None, 1)}
    assert await days(running.conn, tenant, DAVE) == DAVE_ALONE


async def test_trends_by_role_as_json_and_csv_and_the_tenant_s_switch(
    history: Running, internal_keys: InternalKeys
) -> None:
    client, conn = history.client, history.conn

    def as_(role: Role, tenant: UUID = TENANT) -> dict[str, str]:
        token = internal_keys.signer.mint(
            service="insights", subject=f"{role}-1", role=role, tenant_id=tenant
        )
        return {"Authorization": f"Bearer {token}"}

    url = f"/v1/developers/{ALICE_OLD}/trends"
    params = {"until": "2026-03-09"}
    reply = await client.get(url, params=params, headers=as_("tenant_admin"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["developer_id"] == str(ALICE)  # alice-old reads as Alice, who absorbed her
    assert len(body["weeks"]) == 52
    assert body["weeks"][-1] == {
        "week_start": "2026-03-02",
        "active_days": 1,
        "commits": 3,
        "changes_opened": 1,
        "changes_merged": 1,
        "reviews_given": 0,
        "review_latency_hours": None,
        "cycle_time_p50_hours": 4.033333,
        "wip": 0,
    }
    # 30 and 31 January: #0 opened (WIP 1), then merged with commit A (WIP 0 at the end).
    assert body["weeks"][-6] == {
        "week_start": "2026-01-26",
        "active_days": 2,
        "commits": 1,
        "changes_opened": 1,
        "changes_merged": 1,
        "reviews_given": 0,
        "review_latency_hours": None,
        "cycle_time_p50_hours": 24.0,
        "wip": 0,
    }
    four = body["windows"][0]
    assert [w["weeks"] for w in body["windows"]] == [4, 13, 52]
    # Two active weeks of history before the window: too few to test or to rank against.
    assert four["flow_efficiency"] is None
    assert all(m["test"] is None and m["arrow"] is None for m in four["metrics"])

    reply = await client.get(
        url, params=params, headers={**as_("tenant_admin"), "Accept": "text/csv"}
    )
    assert reply.status_code == 200
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(rows) == 52
    assert (rows[-1]["week_start"], rows[-1]["commits"], rows[-1]["cycle_time_p50_hours"]) == (
        "2026-03-02",
        "3",
        "4.033333",
    )

    member = await client.get(url, params=params, headers=as_("member"))
    assert member.status_code == 403
    assert member.headers["content-type"].startswith("application/problem+json")
    assert "no developer is linked to your user" in member.json()["detail"]
    elsewhere = await client.get(url, params=params, headers=as_("tenant_admin", uuid7()))
    assert elsewhere.status_code == 404  # another tenant's admin: no such developer there
    unknown = await client.get(f"/v1/developers/{uuid7()}/trends", headers=as_("tenant_admin"))
    assert unknown.status_code == 404
    assert unknown.json()["parameter"] == "developer_id"

    # Another tenant turns per-developer metrics off: trends answer 403 saying so, the
    # change is audited, and its days announce nothing.
    tenant = uuid7()
    settings_url = "/v1/metrics/developer-settings"
    off = {"developer_metrics_enabled": False}
    refused = await client.put(settings_url, json=off, headers=as_("manager", tenant))
    assert refused.status_code == 403
    done = await client.put(settings_url, json=off, headers=as_("tenant_admin", tenant))
    assert (done.status_code, done.json()) == (200, off)
    reply = await client.get(settings_url, headers=as_("member", tenant))
    assert reply.json() == off
    closed = await client.get(url, headers=as_("manager", tenant))
    assert closed.status_code == 403
    assert "turned off for this tenant" in closed.json()["detail"]
    [audited] = await published(conn, "sextant.config", tenant)
    assert audited.data["action"] == "insights.developer_metrics.set"
    assert (audited.data["before"], audited.data["after"]) == (
        {"developer_metrics_enabled": True},
        off,
    )
    scenario = Tenant(tenant, uuid7())
    await feed(history, scenario, carol_and_dave(scenario))
    assert await days(conn, tenant, CAROL) == CAROL_ALONE
    assert await computed(conn, tenant) == []

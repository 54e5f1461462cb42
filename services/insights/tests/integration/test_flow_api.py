"""Flow and review figures of the scenario's week (scenario.py) and three work items, fed
through the real consumer and read back from the API as JSON and CSV, every number worked by
hand here. The week: Monday 2 March 2026 00:00 UTC to 9 March (T0 = 09:00 on the 2nd).

Change requests (the bot's #2 left out unless include_bots; #0 merged a month before):

- #1 (Alice): commits b1, b2 authored 10:58 and 10:59, opened 11:30, reviewed by a bot at
  12:00 (not a pickup) and approved by Bob at 14:00, merged 15:00, shipped by D2 at 16:00:
  coding 32 min, pickup 2.5 h, review 1 h, deploy 1 h, cycle 10:58 → 16:00 = 5 h 2 min;
  2 commits; 1 round.
- #3 (Bob): its commits r1, r2 never pushed, opened 17:00, no review, merged 19:00,
  shipped by D3 at 20:00: deploy 1 h, cycle from the opening 3 h; 2 commits listed.

Cycle times [3, 5.0333] h: median 4.01667, P85 3 + 0.85 * 2.0333 = 4.72833.

Work items (published out of order: WI-1's done arrives before its start):

- WI-1 started 10:00 (T0 + 1 h), done 3 Mar 10:00: throughput 1, cycle 24 h;
- WI-2 created in progress at 11:00, assigned to Bob, open: at 9 Mar 00:00 its age is
  6 days 13 h = 157 h;
- WI-3 created in progress, then deleted: left out.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from sextant.contracts import Envelope
from sextant.contracts.events.activity import (
    WorkItem,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import SourceRef

from .scenario import ACTORS, BOB, BOT, SOURCE, Tenant, hours
from .test_dora_api import WEEK, history
from .test_read_api import SCOPE, TENANT, WORKSPACE, Running, inbox_count, publish, running, settled

__all__ = ["history", "running"]  # the fixtures, imported to be reused


def item(key: str, category: str, created: datetime, assignee: UUID | None = None) -> WorkItem:
    return WorkItem(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id=key),
        key=key,
        title=f"Item {key}",
        item_type="story",
        status={"todo": "To Do", "in_progress": "In Progress", "done": "Done"}[category],
        status_category=category,  # type: ignore[arg-type]
        assignee=None if assignee is None else ACTORS[assignee],
        created_at=created,
    )


def work_items(scenario: Tenant) -> list[Envelope]:
    def moved(key: str, to: str, at: datetime, assignee: UUID | None = None) -> Envelope:
        people = {} if assignee is None else {"work_item.assignee": assignee}
        return scenario.attributed(
            WorkItemTransitioned(
                work_item=item(key, to, hours(0), assignee),
                from_status=None,
                to_status=to,
                from_category=None,
                to_category=to,  # type: ignore[arg-type]
                occurred_at=at,
            ),
            f"item-{key}",
            people,
        )

    def created(key: str, category: str, at: datetime, assignee: UUID | None = None) -> Envelope:
        people = {} if assignee is None else {"work_item.assignee": assignee}
        return scenario.attributed(
            WorkItemCreated(work_item=item(key, category, at, assignee), occurred_at=at),
            f"item-{key}",
            people,
        )

    deleted = WorkItemDeleted(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id="WI-3"),
        key="WI-3",
        occurred_at=hours(4),
    )
    return [
        moved("WI-1", "done", hours(25)),
        moved("WI-1", "in_progress", hours(1)),
        created("WI-1", "todo", hours(0)),
        created("WI-2", "in_progress", hours(2), BOB),
        created("WI-3", "in_progress", hours(3)),
        scenario.attributed(deleted, "item-WI-3"),
    ]


async def figures(running: Running, route: str, **params: Any) -> dict[str, Any]:
    reply = await running.client.get(
        f"/v1/metrics/{route}", params={"scope": SCOPE, **WEEK, **params}
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_the_weeks_flow_and_review_through_the_consumer(history: Running) -> None:
    scenario = Tenant(TENANT, WORKSPACE)
    before = await inbox_count(history.conn)
    items = work_items(scenario)
    await publish(history.state, scenario, items)
    await settled(history.conn, before, len(items))

    body = await figures(history, "flow")
    assert (body["definition_id"], body["definition_version"]) == ("flow-2026", 1)
    assert (body["scope"], body["granularity"], body["include_bots"]) == (SCOPE, "week", False)
    assert [(p["start"], p["end"]) for p in body["periods"]] == [
        ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")
    ]
    changes = body["total"]["change_requests"]
    assert (changes["merged"], changes["deployed"]) == (2, 2)
    assert changes["coding"]["count"] == 1
    assert changes["coding"]["median_hours"] == pytest.approx(32 / 60)
    assert changes["pickup"] == {"count": 1, "median_hours": 2.5, "p85_hours": 2.5}
    assert changes["review"] == {"count": 1, "median_hours": 1, "p85_hours": 1}
    assert changes["deploy"] == {"count": 2, "median_hours": 1, "p85_hours": 1}
    assert changes["cycle_time"]["median_hours"] == pytest.approx(4 + 1 / 60)
    assert changes["cycle_time"]["p85_hours"] == pytest.approx(3 + 0.85 * (2 + 2 / 60))
    assert body["total"]["work_items"] == {
        "throughput": 1,
        "cycle_time": {"count": 1, "median_hours": 24, "p85_hours": 24},
        "wip": 1,
        "age": {"count": 1, "median_hours": 157, "p85_hours": 157},
    }
    assert body["periods"][0] == body["total"]

    bobs = await figures(history, "flow", developer=str(BOB))
    assert bobs["total"]["change_requests"]["cycle_time"]["median_hours"] == 3  # #3 only
    assert bobs["total"]["work_items"]["wip"] == 1  # WI-2
    assert bobs["total"]["work_items"]["throughput"] == 0

    reviewed = await figures(history, "review")
    total = reviewed["total"]
    assert total["opened"] == 2
    assert total["time_to_first_review"] == {"count": 1, "median_hours": 2.5, "p85_hours": 2.5}
    assert total["merged"] == 2
    assert total["review_rounds"] == {"count": 1, "median": 1, "p85": 1, "unreviewed": 1}
    assert total["change_size"] == {"count": 2, "median": 2, "p85": 2}
    assert total["merged_without_approval"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert total["reviewer_concentration"] == {
        "reviewers": 1,
        "reviews": 1,
        "top_share": 1,
        "gini": 0,
    }
    assert reviewed["reviewer_load"] == [
        {"reviewer": str(BOB), "reviews": 1, "change_requests": 1, "share": 1}
    ]
    # with bots: the bot's #2 merged too, and its review of #1 shares the load
    with_bots = await figures(history, "review", include_bots="true")
    assert with_bots["total"]["merged"] == 3
    assert sorted((x["reviewer"], x["share"]) for x in with_bots["reviewer_load"]) == sorted(
        [(str(BOB), 0.5), (str(BOT), 0.5)]
    )

    reply = await history.client.get(
        "/v1/metrics/review",
        params={"scope": SCOPE, **WEEK, "granularity": "day"},
        headers={"Accept": "text/csv"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    total_rows = {r["metric"]: r for r in rows if r["period"] == "total"}
    assert total_rows["merged_without_approval"]["count"] == "1"
    assert total_rows["merged_without_approval"]["value"] == "0.5"
    assert total_rows["reviewer_share"]["reviewer"] == str(BOB)
    # seven days; only 2 March had anything opened
    opened = [
        (r["start"][:10], r["count"])
        for r in rows
        if r["metric"] == "changes_opened" and r["period"] == "day"
    ]
    assert opened == [("2026-03-02", "2")] + [(f"2026-03-0{d}", "0") for d in range(3, 9)]


BAD_INPUT: list[tuple[dict[str, str], int, str]] = [
    ({"granularity": "month"}, 422, "granularity"),
    ({"since": "2025-01-01T00:00:00Z", "granularity": "day"}, 400, "granularity"),
    ({"since": "2026-03-09T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, 400, "since"),
    ({"developer": "alice"}, 422, "developer"),
    ({"include_bots": "maybe"}, 422, "include_bots"),
]


async def test_bad_input_is_a_problem_naming_the_parameter(running: Running) -> None:
    for params, status, named in BAD_INPUT:
        for route in ("flow", "review"):
            reply = await running.client.get(
                f"/v1/metrics/{route}",
                params={"scope": SCOPE, "until": "2026-03-09T00:00:00Z", **params},
            )
            assert reply.status_code == status, (route, params, reply.text)
            assert reply.headers["content-type"].startswith("application/problem+json")
            assert named in reply.text
    for params in (
        {"since": "0001-01-02T00:00:00Z", "until": "0001-01-09T00:00:00Z", "granularity": "day"},
        {"until": "0001-01-02T00:00:00Z"},
        {"since": "9999-12-24T00:00:00Z", "until": "9999-12-31T12:00:00Z", "granularity": "day"},
    ):
        for route in ("flow", "review"):
            reply = await running.client.get(
                f"/v1/metrics/{route}", params={"scope": SCOPE, **params}
            )
            assert reply.status_code < 500, (route, params, reply.text)

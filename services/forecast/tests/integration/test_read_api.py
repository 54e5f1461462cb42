"""The read API over work items and sprints: events go through the real bus into the
projection (as identity publishes them, attributions included) and the routes list,
filter, page and open what was projected — per tenant and scope, as JSON and CSV, with
problem+json naming the parameter for every bad input.

The worked example (times fixed, so every expected list below is written out by hand):

    workspace W1 (tenant T)                     workspace W2 (tenant T)
      A-1 story  created 10-01, started 10-02,     B-1 story  created 10-02, done 10-08
                 done 10-05, Ada, sprint S1            (by a transition from To Do)
      A-2 bug    created 10-03, started 10-04, Bob   sprint S1 (another tool's "S1"),
      A-3 story  created 10-06, To Do, names S1        starts 09-21
                 in its own snapshot
      A-4 task   created 10-07, then deleted      workspace W3 (tenant OTHER)
      sprint S0  09-14 .. 09-28, closed             C-1 story created 10-04
      sprint S1  09-28 .. 10-12 (lists A-1)
      sprint S9  starts a week from now

Lists run newest first: items by creation, sprints by start.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from pydantic import BaseModel

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import (
    Sprint,
    SprintClosed,
    SprintStarted,
    WorkItem,
    WorkItemCreated,
    WorkItemDeleted,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import Actor, SourceRef
from sextant.contracts.events.platform import ActivityAttributed, Attribution
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.forecast.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys

TENANT, OTHER = uuid7(), uuid7()
W1, W2, W3 = uuid7(), uuid7(), uuid7()
VIEW = uuid7()
JIRA, OTHER_JIRA = uuid7(), uuid7()
ADA, BOB = uuid7(), uuid7()
WORKSPACE_OF = {W1: TENANT, W2: TENANT, W3: OTHER}
SOURCE_OF = {W1: JIRA, W2: OTHER_JIRA, W3: uuid7()}


def day(month: int, dom: int) -> datetime:
    return datetime(2026, month, dom, tzinfo=UTC)


STATUS = {"todo": "To Do", "in_progress": "In Progress", "done": "Done"}


def work_item(
    workspace: UUID, key: str, item_type: str, category: str, created: datetime, **extra: Any
) -> WorkItem:
    return WorkItem(
        source=SourceRef(
            kind="jira",
            source_id=SOURCE_OF[workspace],
            external_id=f"ext-{key}",
            url=f"https://jira.example.org/browse/{key}",
        ),
        key=key,
        title=f"Title of {key}",
        item_type=item_type,
        status=STATUS[category],
        status_category=category,
        created_at=created,
        **extra,
    )


def attributed(
    workspace: UUID, event: BaseModel, type_name: str, subject: str, assignee: UUID | None = None
) -> Envelope:
    """The event as identity publishes it, with the assignee resolved to a developer."""
    attributions = []
    if assignee is not None:
        actor = Actor(kind="jira", account_id=str(assignee), display_name="someone")
        attributions.append(
            Attribution(path="work_item.assignee", actor=actor, developer_id=assignee)
        )
    data = ActivityAttributed(
        original_id=uuid7(),
        original_type=type_name,
        original=event.model_dump(mode="json"),
        attributions=attributions,
    )
    return Envelope.wrap(
        data,
        source="/sextant/identity",
        tenantid=WORKSPACE_OF[workspace],
        workspaceid=workspace,
        subject=subject,
    )


def lifecycle(
    workspace: UUID,
    key: str,
    item_type: str,
    moves: list[tuple[str, datetime]],
    assignee: UUID | None = None,
    **extra: Any,
) -> list[Envelope]:
    """Created at the first move's time in To Do, then one transition per further move."""
    created_at = moves[0][1]
    item = work_item(workspace, key, item_type, "todo", created_at, **extra)
    events = [
        attributed(
            workspace,
            WorkItemCreated(work_item=item, occurred_at=created_at),
            "sextant.activity.work_item.created.v1",
            key,
            assignee,
        )
    ]
    before = "todo"
    for category, at in moves[1:]:
        moved = WorkItemTransitioned(
            work_item=work_item(workspace, key, item_type, category, created_at, **extra),
            from_status=STATUS[before],
            to_status=STATUS[category],
            from_category=before,
            to_category=category,
            occurred_at=at,
        )
        events.append(
            attributed(
                workspace, moved, "sextant.activity.work_item.transitioned.v1", key, assignee
            )
        )
        before = category
    return events


def sprint_events(
    workspace: UUID,
    sprint_id: str,
    starts: datetime,
    ends: datetime,
    keys: list[str],
    closed: bool = False,
) -> list[Envelope]:
    sprint = Sprint(
        source=SourceRef(kind="jira", source_id=SOURCE_OF[workspace], external_id=sprint_id),
        name=f"Sprint {sprint_id}",
        starts_at=starts,
        ends_at=ends,
    )
    subject = f"sprint-{sprint_id}"
    events = [
        attributed(
            workspace,
            SprintStarted(sprint=sprint, item_keys=keys, occurred_at=starts),
            "sextant.activity.sprint.started.v1",
            subject,
        )
    ]
    if closed:
        events.append(
            attributed(
                workspace,
                SprintClosed(sprint=sprint, occurred_at=ends),
                "sextant.activity.sprint.closed.v1",
                subject,
            )
        )
    return events


def worked_example() -> list[Envelope]:
    future = datetime.now(UTC) + timedelta(days=7)
    deleted = WorkItemDeleted(
        source=SourceRef(kind="jira", source_id=JIRA, external_id="ext-A-4"),
        key="A-4",
        occurred_at=day(10, 9),
    )
    return [
        *lifecycle(
            W1,
            "A-1",
            "story",
            [("todo", day(10, 1)), ("in_progress", day(10, 2)), ("done", day(10, 5))],
            ADA,
        ),
        *lifecycle(W1, "A-2", "bug", [("todo", day(10, 3)), ("in_progress", day(10, 4))], BOB),
        *lifecycle(W1, "A-3", "story", [("todo", day(10, 6))], sprint_ids=["S1"]),
        *lifecycle(W1, "A-4", "task", [("todo", day(10, 7))]),
        attributed(W1, deleted, "sextant.activity.work_item.deleted.v1", "A-4"),
        *sprint_events(W1, "S0", day(9, 14), day(9, 28), [], closed=True),
        *sprint_events(W1, "S1", day(9, 28), day(10, 12), ["A-1"]),
        *sprint_events(W1, "S9", future, future + timedelta(days=14), []),
        *lifecycle(W2, "B-1", "story", [("todo", day(10, 2)), ("done", day(10, 8))]),
        *sprint_events(W2, "S1", day(9, 21), day(10, 5), []),
        *lifecycle(W3, "C-1", "story", [("todo", day(10, 4))]),
    ]


@pytest.fixture
async def projected(
    database_url: str, internal_keys: InternalKeys
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceState]]:
    """The forecast service with the worked example projected through its bus."""
    async with running_service(SPEC, service_settings(database_url, internal_keys)) as (
        client,
        state,
    ):
        records = [
            record_for(
                e,
                ACTIVITY_ATTRIBUTED.name,
                entity_key(e.tenantid, e.workspaceid or e.tenantid, e.subject or ""),
            )
            for e in worked_example()
        ]
        await state.bus.publish(records)
        dsn = plain_dsn(database_url)
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(300):
                # Every event's effect is in: 10 transitions, A-4 deleted, S0 closed.
                done = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM forecast.work_item_transitions) = 10"
                    " AND (SELECT count(*) FROM forecast.work_items"
                    "      WHERE deleted_at IS NOT NULL) = 1"
                    " AND (SELECT count(*) FROM forecast.sprints WHERE closed_at IS NOT NULL) = 1"
                    " AND (SELECT count(*) FROM forecast.sprints) = 4"
                )
                if done:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the worked example was not projected in 30 s")
        finally:
            await conn.close()
        yield client, state


Headers = Callable[..., dict[str, str]]


@pytest.fixture
def as_member(internal_keys: InternalKeys) -> Headers:
    """Headers of a member of ``tenant``; with ``view`` workspaces, as the gateway signs
    a view scope into the token."""

    def headers(tenant: UUID = TENANT, view: list[UUID] | None = None) -> dict[str, str]:
        token = internal_keys.signer.mint(
            service="forecast",
            subject="member-1",
            role="member",
            tenant_id=tenant,
            scope_workspaces=view,
        )
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def forecast(projected: tuple[httpx.AsyncClient, ServiceState]) -> httpx.AsyncClient:
    return projected[0]


async def keys(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: Any
) -> list[str]:
    reply = await client.get(path, params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    field = "key" if path == "/v1/work-items" else "source_sprint_id"
    return [item[field] for item in reply.json()["items"]]


def ws(workspace: UUID) -> str:
    return f"workspace:{workspace}"


async def test_work_items_list_newest_first_with_a_total_and_no_deleted_items(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    reply = await forecast.get("/v1/work-items", params={"scope": ws(W1)}, headers=as_member())
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [i["key"] for i in body["items"]] == ["A-3", "A-2", "A-1"]  # A-4 was deleted
    assert body["total"] == 3 and body["next_cursor"] is None
    a1 = body["items"][2]
    assert a1["status"] == "Done" and a1["status_category"] == "done"
    assert a1["resolved_at"] == "2026-10-05T00:00:00Z"
    assert a1["started_at"] == "2026-10-02T00:00:00Z"
    assert a1["assignee_developer_id"] == str(ADA)
    assert a1["source_id"] == str(JIRA) and a1["external_id"] == "ext-A-1"
    assert a1["url"] == "https://jira.example.org/browse/A-1"


async def test_a_view_lists_the_items_of_all_its_workspaces(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    found = await keys(forecast, as_member(view=[W1, W2]), "/v1/work-items", scope=f"view:{VIEW}")
    assert found == ["A-3", "A-2", "B-1", "A-1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status_category": "done"}, ["A-1"]),
        ({"status_category": ["todo", "in_progress"]}, ["A-3", "A-2"]),
        ({"status": "In Progress"}, ["A-2"]),
        ({"item_type": "bug"}, ["A-2"]),
        ({"assignee": str(ADA)}, ["A-1"]),
        ({"assignee": str(BOB)}, ["A-2"]),
        # half-open: A-3, created at 10-06 00:00, is not before 10-06 00:00
        (
            {"created_since": "2026-10-03T00:00:00Z", "created_before": "2026-10-06T00:00:00Z"},
            ["A-2"],
        ),
        ({"created_since": "2026-10-06T02:00:00+02:00"}, ["A-3"]),  # the same instant
        ({"status_changed_before": "2026-10-05T00:00:00Z"}, ["A-2"]),
        ({"resolved_since": "2026-10-01T00:00:00Z"}, ["A-1"]),
        ({"resolved_before": "2026-10-05T00:00:00Z"}, []),
    ],
)
async def test_each_work_item_filter_leaves_out_what_does_not_match(
    forecast: httpx.AsyncClient,
    as_member: Headers,
    params: dict[str, Any],
    expected: list[str],
) -> None:
    assert await keys(forecast, as_member(), "/v1/work-items", scope=ws(W1), **params) == expected


async def test_the_sprint_filter_takes_the_listed_id_and_both_ways_of_membership(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    view = as_member(view=[W1, W2])
    sprints = (
        await forecast.get("/v1/sprints", params={"scope": f"view:{VIEW}"}, headers=view)
    ).json()["items"]
    ids = {(s["workspace_id"], s["source_sprint_id"]): s["id"] for s in sprints}
    # A-1 by the sprint's own event, A-3 by the sprint id in its snapshot; W2's "S1" is
    # another sprint, with no items.
    in_w1 = await keys(
        forecast, view, "/v1/work-items", scope=f"view:{VIEW}", sprint=ids[(str(W1), "S1")]
    )
    in_w2 = await keys(
        forecast, view, "/v1/work-items", scope=f"view:{VIEW}", sprint=ids[(str(W2), "S1")]
    )
    assert (in_w1, in_w2) == (["A-3", "A-1"], [])


async def test_pages_follow_each_other_without_gaps_or_repeats(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    headers, seen, cursor, pages = as_member(view=[W1, W2]), [], None, 0
    while True:
        params = {"scope": f"view:{VIEW}", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        reply = await forecast.get("/v1/work-items", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["total"] == 4
        seen += [item["key"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (["A-3", "A-2", "B-1", "A-1"], 2)


async def test_the_work_item_list_answers_csv_and_pages_by_its_link(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    headers = {**as_member(), "Accept": "text/csv"}
    first = await forecast.get(
        "/v1/work-items", params={"scope": ws(W1), "limit": 2}, headers=headers
    )
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(first.text)))
    assert [(r["key"], r["status"], r["assignee_developer_id"]) for r in rows] == [
        ("A-3", "To Do", ""),
        ("A-2", "In Progress", str(BOB)),
    ]
    following = first.headers["Link"].split(";")[0].strip("<>")
    second = await forecast.get(following, headers=headers)
    assert second.status_code == 200, second.text
    assert [r["key"] for r in csv.DictReader(io.StringIO(second.text))] == ["A-1"]
    assert "Link" not in second.headers


async def test_a_work_item_opens_with_its_status_history_sprints_and_stale_flag(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    listed = (
        await forecast.get(
            "/v1/work-items",
            params={"scope": ws(W1), "item_type": "story", "status": "Done"},
            headers=as_member(),
        )
    ).json()["items"]
    reply = await forecast.get(
        f"/v1/work-items/{listed[0]['id']}", params={"scope": ws(W1)}, headers=as_member()
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["key"] == "A-1" and body["assignee_developer_id"] == str(ADA)
    assert [
        (h["from_status"], h["to_status"], h["to_category"], h["at"])
        for h in body["status_history"]
    ] == [
        (None, "To Do", "todo", "2026-10-01T00:00:00Z"),
        ("To Do", "In Progress", "in_progress", "2026-10-02T00:00:00Z"),
        ("In Progress", "Done", "done", "2026-10-05T00:00:00Z"),
    ]
    assert [(s["source_sprint_id"], s["state"]) for s in body["sprints"]] == [("S1", "active")]
    assert body["stale"] is False and body["stale_dismissed_at"] is None


async def test_a_dismissed_stale_flag_shows_on_the_item(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    dismissed = await forecast.post(
        "/v1/work-items/A-2/stale-dismissal", params={"scope": ws(W1)}, headers=as_member()
    )
    assert dismissed.status_code == 204, dismissed.text
    a2 = (
        await forecast.get(
            "/v1/work-items", params={"scope": ws(W1), "item_type": "bug"}, headers=as_member()
        )
    ).json()["items"][0]
    assert a2["stale_dismissed_at"] is not None and a2["stale"] is False


async def test_the_stale_list_still_answers_at_its_own_path(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    reply = await forecast.get(
        "/v1/work-items/stale", params={"scope": ws(W1)}, headers=as_member()
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["scope"] == ws(W1)


async def test_sprints_list_latest_start_first_with_their_state(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    reply = await forecast.get(
        "/v1/sprints", params={"scope": f"view:{VIEW}"}, headers=as_member(view=[W1, W2])
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [(s["workspace_id"], s["source_sprint_id"], s["state"]) for s in body["items"]] == [
        (str(W1), "S9", "future"),
        (str(W1), "S1", "active"),
        (str(W2), "S1", "active"),
        (str(W1), "S0", "closed"),
    ]
    assert body["total"] == 4
    assert len({s["id"] for s in body["items"]}) == 4  # the two "S1" are two sprints


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "closed"}, ["S0"]),
        ({"state": "future"}, ["S9"]),
        ({"state": ["active", "closed"]}, ["S1", "S0"]),
        ({"starts_since": "2026-09-20T00:00:00Z", "starts_before": "2026-09-29T00:00:00Z"}, ["S1"]),
        ({"ends_before": "2026-10-01T00:00:00Z"}, ["S0"]),
        ({"ends_since": "2026-10-01T00:00:00Z", "state": "active"}, ["S1"]),
    ],
)
async def test_each_sprint_filter_leaves_out_what_does_not_match(
    forecast: httpx.AsyncClient,
    as_member: Headers,
    params: dict[str, Any],
    expected: list[str],
) -> None:
    assert await keys(forecast, as_member(), "/v1/sprints", scope=ws(W1), **params) == expected


async def test_sprints_page_and_answer_csv(forecast: httpx.AsyncClient, as_member: Headers) -> None:
    headers = {**as_member(view=[W1, W2]), "Accept": "text/csv"}
    seen, path = [], f"/v1/sprints?scope=view:{VIEW}&limit=3"
    while path:
        reply = await forecast.get(path, headers=headers)
        assert reply.status_code == 200, reply.text
        seen += [
            (r["source_sprint_id"], r["state"]) for r in csv.DictReader(io.StringIO(reply.text))
        ]
        link = reply.headers.get("Link")
        path = link.split(";")[0].strip("<>") if link else ""
    assert seen == [("S9", "future"), ("S1", "active"), ("S1", "active"), ("S0", "closed")]


async def test_a_sprint_opens_by_its_id_with_its_items_per_category(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    listed = (
        await forecast.get(
            "/v1/sprints", params={"scope": ws(W1), "state": "active"}, headers=as_member()
        )
    ).json()["items"]
    reply = await forecast.get(
        f"/v1/sprints/{listed[0]['id']}", params={"scope": ws(W1)}, headers=as_member()
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["name"], body["state"], body["ends_at"]) == (
        "Sprint S1",
        "active",
        "2026-10-12T00:00:00Z",
    )
    assert body["items"] == {"todo": 1, "in_progress": 0, "done": 1}


async def test_a_tenant_never_sees_another_tenants_items_or_sprints(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    ours = (
        await forecast.get("/v1/work-items", params={"scope": ws(W1)}, headers=as_member())
    ).json()["items"]
    sprint = (
        await forecast.get("/v1/sprints", params={"scope": ws(W1)}, headers=as_member())
    ).json()["items"][0]
    other = as_member(tenant=OTHER)
    # The other tenant naming our workspace sees nothing of it, nor opens our ids.
    assert await keys(forecast, other, "/v1/work-items", scope=ws(W1)) == []
    assert await keys(forecast, other, "/v1/sprints", scope=ws(W1)) == []
    for path in (f"/v1/work-items/{ours[0]['id']}", f"/v1/sprints/{sprint['id']}"):
        reply = await forecast.get(path, params={"scope": ws(W1)}, headers=other)
        assert reply.status_code == 404, reply.text
    # ... and it sees its own.
    assert await keys(forecast, other, "/v1/work-items", scope=ws(W3)) == ["C-1"]
    # Our cursor is no cursor of theirs.
    page = (
        await forecast.get(
            "/v1/work-items", params={"scope": ws(W1), "limit": 1}, headers=as_member()
        )
    ).json()
    reply = await forecast.get(
        "/v1/work-items",
        params={"scope": ws(W1), "cursor": page["next_cursor"]},
        headers=other,
    )
    assert reply.status_code == 400 and reply.json()["parameter"] == "cursor"


async def test_the_sprint_forecast_answers_404_for_an_id_it_does_not_know(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    unknown = await forecast.get(
        f"/v1/sprints/{uuid7()}/forecast", params={"scope": ws(W1)}, headers=as_member()
    )
    assert unknown.status_code == 404 and unknown.json()["parameter"] == "sprint_id"


@pytest.mark.parametrize(
    ("path", "params", "status", "named"),
    [
        ("/v1/work-items", {"scope": "team:1"}, 400, "scope"),
        ("/v1/work-items", {"scope": "workspace:not-a-uuid"}, 400, "workspace"),
        ("/v1/sprints", {"scope": "view:" + "0" * 8}, 400, "view"),
        ("/v1/work-items/not-a-uuid", {}, 422, "item_id"),
        ("/v1/sprints/S1", {}, 422, "sprint_id"),
        ("/v1/work-items/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, {}, 404, "work item"),
        ("/v1/sprints/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, {}, 404, "sprint"),
        ("/v1/work-items", {"limit": 0}, 422, "limit"),
        ("/v1/work-items", {"limit": 501}, 422, "limit"),
        ("/v1/sprints", {"limit": 501}, 422, "limit"),
        ("/v1/work-items", {"cursor": "not-a-cursor"}, 400, "cursor"),
        ("/v1/work-items", {"status_category": "doing"}, 422, "status_category"),
        ("/v1/sprints", {"state": "open"}, 422, "state"),
        ("/v1/work-items", {"assignee": "ada"}, 422, "assignee"),
        ("/v1/work-items", {"sprint": "S1"}, 422, "sprint"),
        ("/v1/work-items", {"sprint": str(UUID(int=7))}, 404, "sprint"),
        ("/v1/work-items", {"created_since": "2026-10-01T00:00:00"}, 422, "created_since"),
        ("/v1/work-items", {"created_since": "0001-01-01T00:00:00+01:00"}, 422, "created_since"),
        (
            "/v1/work-items",
            {"created_since": "2026-10-05T00:00:00Z", "created_before": "2026-10-01T00:00:00Z"},
            400,
            "created_since",
        ),
        (
            "/v1/work-items",
            {"resolved_since": "2026-10-05T00:00:00Z", "resolved_before": "2026-10-05T00:00:00Z"},
            400,
            "resolved_since",
        ),
        (
            "/v1/sprints",
            {"ends_since": "2026-10-05T00:00:00Z", "ends_before": "2026-10-01T00:00:00Z"},
            400,
            "ends_since",
        ),
    ],
)
async def test_bad_input_is_a_problem_naming_the_parameter(
    forecast: httpx.AsyncClient,
    as_member: Headers,
    path: str,
    params: dict[str, Any],
    status: int,
    named: str,
) -> None:
    reply = await forecast.get(path, params={"scope": ws(W1), **params}, headers=as_member())
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert named in reply.json()["detail"], reply.json()


async def test_a_cursor_from_another_list_is_refused(
    forecast: httpx.AsyncClient, as_member: Headers
) -> None:
    sprints = (
        await forecast.get("/v1/sprints", params={"scope": ws(W1), "limit": 1}, headers=as_member())
    ).json()
    reply = await forecast.get(
        "/v1/work-items",
        params={"scope": ws(W1), "cursor": sprints["next_cursor"]},
        headers=as_member(),
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["parameter"] == "cursor"


async def test_every_read_route_documents_its_parameters_and_problems(
    forecast: httpx.AsyncClient,
) -> None:
    document = (await forecast.get("/openapi.json")).json()
    for path, statuses in {
        "/v1/work-items": {"400", "404", "422"},
        "/v1/work-items/{item_id}": {"400", "404", "422"},
        "/v1/sprints": {"400", "422"},
        "/v1/sprints/{sprint_id}": {"400", "404", "422"},
    }.items():
        operation = document["paths"][path]["get"]
        assert operation["summary"], path
        assert statuses <= set(operation["responses"]), (path, operation["responses"])
        for parameter in operation["parameters"]:
            assert parameter.get("description"), (path, parameter["name"])
    lists = document["paths"]["/v1/work-items"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in lists

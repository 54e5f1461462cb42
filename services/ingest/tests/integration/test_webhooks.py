"""Webhooks end to end on real PostgreSQL and the local bus: a signed delivery is stored
with its events in one transaction, once, and every bad input gets the right problem."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import lz4.frame
import pytest

from sextant.contracts import Envelope, EventModel, uuid7
from sextant.contracts.events.platform import WorkspaceRestored, WorkspaceSoftDeleted
from sextant.contracts.topics import LIFECYCLE, entity_key
from sextant.runtime.outbox import record_for

from ..fixtures import payloads
from ..fixtures.signing import sign
from .conftest import OTHER_TENANT, TENANT, WORKSPACE, Ingest


async def test_a_signed_delivery_is_stored_and_its_events_published(ingest: Ingest) -> None:
    source = await ingest.source("github")
    assert (
        source["webhook_url"].endswith(f"/v1/hooks/{source['id']}") and len(source["secret"]) >= 32
    )
    body = json.dumps(payloads.github_pull_request("closed", merged=True)).encode()
    response = await ingest.deliver(
        source, body, sign("github", source["secret"], body, delivery="gh-1", event="pull_request")
    )
    assert response.status_code == 202, response.text
    assert response.json() == {
        "delivery_id": "gh-1",
        "duplicate": False,
        "outcome": "normalized",
        "events": 1,
        "reason": None,
    }
    [merged] = await ingest.published("sextant.activity", 1)
    assert merged.type == "sextant.activity.change_request.merged.v1"
    assert (merged.tenantid, merged.workspaceid) == (TENANT, WORKSPACE)
    assert merged.data["merge_sha"] == "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
    [stored] = await ingest.sql("SELECT outcome, body, body_codec FROM ingest.deliveries")
    assert stored["outcome"] == "normalized" and stored["body_codec"] == "lz4"
    assert lz4.frame.decompress(stored["body"]) == body


async def test_one_hundred_redeliveries_store_one_delivery_and_one_set_of_events(
    ingest: Ingest,
) -> None:
    source = await ingest.source("jira")
    body = json.dumps(payloads.jira_created()).encode()
    headers = sign("jira", source["secret"], body, delivery="jira-hook-77")
    responses = await asyncio.gather(*(ingest.deliver(source, body, headers) for _ in range(100)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 99 + [202]
    assert sum(r.json()["duplicate"] for r in responses) == 99
    assert (await ingest.sql("SELECT count(*) AS n FROM ingest.deliveries"))[0]["n"] == 1
    await asyncio.sleep(0.5)  # let any stray copy reach the bus before counting
    events = await ingest.published("sextant.activity", 1)
    assert [e.type for e in events] == ["sextant.activity.work_item.created.v1"]


async def test_secrets_are_shown_once_sealed_at_rest_and_never_logged(
    ingest: Ingest, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await ingest.source(
        "gitlab", secret="a-user-chosen-secret-123", credentials={"token": "glpat-xyz-secret"}
    )
    assert source["secret"] == "a-user-chosen-secret-123"
    shown = await ingest.client.get(
        f"/v1/sources/{source['id']}", headers=ingest.as_role("manager")
    )
    assert (
        shown.status_code == 200
        and "secret" not in shown.json()
        and shown.json()["has_credentials"]
    )
    [row] = await ingest.sql("SELECT secret_sealed, credentials_sealed FROM ingest.sources")
    assert b"a-user-chosen-secret-123" not in bytes(row["secret_sealed"])
    assert b"glpat-xyz-secret" not in bytes(row["credentials_sealed"])
    changes = await ingest.published("sextant.config", 1)
    assert changes[0].data["action"] == "source.create"
    assert "a-user-chosen-secret-123" not in json.dumps(changes[0].data)
    url, admin = f"/v1/sources/{source['id']}", ingest.as_role("tenant_admin")
    replaced = {"credentials": {"token": "glpat-replaced-secret"}}
    assert (await ingest.client.patch(url, json=replaced, headers=admin)).json()["has_credentials"]
    removed = await ingest.client.patch(url, json={"credentials": {}}, headers=admin)
    assert removed.json()["has_credentials"] is False
    body = b'{"object_kind": "push"}'
    wrong = {"x-gitlab-token": "not-the-secret", "x-gitlab-event": "Push Hook"}
    assert (await ingest.deliver(source, body, wrong)).status_code == 401
    logged = capsys.readouterr()
    assert "source.update" in json.dumps(
        [c.data for c in await ingest.published("sextant.config", 3)]
    )
    for secret in ("a-user-chosen-secret-123", "glpat-xyz-secret", "glpat-replaced-secret"):
        assert secret not in logged.out + logged.err


async def test_sources_are_tenant_scoped_and_need_an_admin_to_change(ingest: Ingest) -> None:
    source = await ingest.source("github")
    other = await ingest.client.get(
        f"/v1/sources/{source['id']}", headers=ingest.as_role("tenant_admin", OTHER_TENANT)
    )
    assert other.status_code == 404
    listed = await ingest.client.get(
        f"/v1/workspaces/{WORKSPACE}/sources", headers=ingest.as_role("tenant_admin", OTHER_TENANT)
    )
    assert listed.json()["items"] == []
    member = await ingest.client.post(
        f"/v1/workspaces/{WORKSPACE}/sources",
        json={"kind": "github", "name": "x"},
        headers=ingest.as_role("member"),
    )
    assert member.status_code == 403 and "tenant_admin" in member.json()["detail"]
    cross = await ingest.client.patch(
        f"/v1/sources/{source['id']}",
        json={"disabled": True},
        headers=ingest.as_role("tenant_admin", OTHER_TENANT),
    )
    assert cross.status_code == 404


def _problem(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"], response.json()


async def test_bad_deliveries_get_a_clear_problem_and_store_nothing(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await ingest.source("github")
    body = json.dumps(payloads.github_push()).encode()
    good = sign("github", source["secret"], body)
    _problem(
        await ingest.deliver(source, body, {**good, "x-hub-signature-256": "sha256=00"}),
        401,
        "does not match",
    )
    _problem(await ingest.deliver(source, body, {"x-github-event": "push"}), 401, "missing")
    _problem(await ingest.deliver({"id": uuid7()}, body, good), 404, "no source")
    _problem(await ingest.deliver({"id": "not-a-uuid"}, body, good), 404, "no source")
    text = await ingest.client.post(
        f"/v1/hooks/{source['id']}", content=body, headers={**good, "content-type": "text/plain"}
    )
    _problem(text, 415, "application/json")
    broken = b'{"ref": "refs/heads/main",'
    _problem(
        await ingest.deliver(source, broken, sign("github", source["secret"], broken)),
        400,
        "not valid JSON",
    )
    ingest.state.extras["ingest"].settings.max_body_bytes = 100
    _problem(await ingest.deliver(source, body, good), 413, "100 byte limit")

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(body), 64):
            yield body[start : start + 64]

    chunked = await ingest.client.post(
        f"/v1/hooks/{source['id']}",
        content=streamed(),
        headers={**good, "content-type": "application/json"},
    )
    assert "content-length" not in chunked.request.headers
    _problem(chunked, 413, "100 byte limit")
    ingest.state.extras["ingest"].settings.max_body_bytes = 25 * 1024 * 1024
    await ingest.client.patch(
        f"/v1/sources/{source['id']}",
        json={"disabled": True},
        headers=ingest.as_role("tenant_admin"),
    )
    _problem(await ingest.deliver(source, body, good), 410, "disabled")
    assert (await ingest.sql("SELECT count(*) AS n FROM ingest.deliveries"))[0]["n"] == 0


async def test_an_unreadable_payload_is_kept_and_the_admins_are_told(ingest: Ingest) -> None:
    source = await ingest.source("generic")
    body = json.dumps({"type": "deployment", "id": "d1", "sha": "abcdef1"}).encode()
    response = await ingest.deliver(
        source, body, sign("generic", source["secret"], body, delivery="msg-9")
    )
    assert response.status_code == 202 and response.json()["outcome"] == "failed"
    assert "environment" in response.json()["reason"]
    [notice] = await ingest.published("sextant.notifications", 1)
    assert "could not be read" in notice.data["title"] and notice.data["audience"] == [
        "tenant_admin"
    ]
    listed = await ingest.client.get(
        f"/v1/sources/{source['id']}/deliveries", headers=ingest.as_role("manager")
    )
    assert [d["outcome"] for d in listed.json()["items"]] == ["failed"]


async def test_repeated_signature_failures_raise_one_notification(ingest: Ingest) -> None:
    source = await ingest.source("github")
    body = b"{}"
    for _ in range(7):
        response = await ingest.deliver(source, body, sign("github", "not-the-secret-at-all", body))
        assert response.status_code == 401
    [notice] = await ingest.published("sextant.notifications", 1)
    assert "signatures keep failing" in notice.data["title"]
    shown = await ingest.client.get(
        f"/v1/sources/{source['id']}", headers=ingest.as_role("manager")
    )
    assert shown.json()["signature_failures"] == 7


async def test_a_forged_flood_is_counted_in_a_few_writes_and_told_once_per_mark(
    ingest: Ingest,
) -> None:
    source = await ingest.source("github")
    body = b"{}"
    forged = sign("github", "not-the-secret-at-all", body)
    for burst in range(3):
        responses = await asyncio.gather(
            *(ingest.deliver(source, body, forged) for _ in range(100))
        )
        assert {r.status_code for r in responses} == {401}
        if burst < 2:
            await asyncio.sleep(0.2)
    counted = ingest.state.extras["ingest"].signature_failures
    for _ in range(50):  # the last burst's count is written within a second
        [row] = await ingest.sql("SELECT signature_failures AS n FROM ingest.sources")
        if row["n"] == 300:
            break
        await asyncio.sleep(0.1)
    assert row["n"] == 300
    assert counted.writes <= 6, counted.writes  # not one transaction per refusal
    notices = await ingest.published("sextant.notifications", 1)
    # the 5th, 100th, 200th and 300th passed in a few writes: a notice per write passing one
    assert 1 <= len(notices) <= counted.writes
    assert all("signatures keep failing" in n.data["title"] for n in notices)


async def test_made_up_source_ids_get_404_without_a_lookup_each(ingest: Ingest) -> None:
    probe = {"id": uuid7()}
    body = b"{}"
    responses = [
        await ingest.deliver(probe, body, {"x-hub-signature-256": "sha256=00"}) for _ in range(20)
    ]
    assert {r.status_code for r in responses} == {404}
    assert ingest.state.extras["ingest"].sources.lookups == 1


async def test_replay_renormalizes_stored_deliveries_keeping_event_ids(ingest: Ingest) -> None:
    source = await ingest.source("jira")
    for n, status in enumerate(["In Progress", "Done"]):
        body = json.dumps(
            payloads.jira_transitioned(
                "To Do", status, "indeterminate", changelog_id=str(n), at_ms=1772528400000 + n
            )
        ).encode()
        assert (
            await ingest.deliver(
                source, body, sign("jira", source["secret"], body, delivery=f"j-{n}")
            )
        ).status_code == 202
    first = {e.id for e in await ingest.published("sextant.activity", 2)}
    # As if an older normalizer had failed them: the replay must now produce their events.
    await ingest.sql(
        "UPDATE ingest.deliveries SET outcome = 'failed', event_count = 0, meaning = NULL"
    )
    # One as stored before revision 0005 (zlib): the replay reads each row by its codec.
    [older] = await ingest.sql("SELECT id, body FROM ingest.deliveries ORDER BY id LIMIT 1")
    await ingest.sql(
        "UPDATE ingest.deliveries SET body = $1, body_codec = 'zlib' WHERE id = $2",
        zlib.compress(lz4.frame.decompress(older["body"])),
        older["id"],
    )
    window = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    admin = ingest.as_role("tenant_admin")
    page = await ingest.client.post(
        f"/v1/sources/{source['id']}/replay", json=window | {"limit": 1}, headers=admin
    )
    assert page.status_code == 200, page.text
    assert page.json()["complete"] is False and page.json()["deliveries"] == 1
    rest = await ingest.client.post(
        f"/v1/sources/{source['id']}/replay",
        json=window | {"after": page.json()["resume_after"]},
        headers=admin,
    )
    assert rest.json() | {"resume_after": None} == {
        "deliveries": 1,
        "outcomes": {"normalized": 1, "ignored": 0, "failed": 0},
        "events": 1,
        "revised": 0,
        "unchanged": 0,
        "complete": True,
        "resume_after": None,
    }
    outcomes = await ingest.sql("SELECT outcome, event_count FROM ingest.deliveries")
    assert {(r["outcome"], r["event_count"]) for r in outcomes} == {("normalized", 1)}
    replayed = await ingest.published("sextant.activity", 4)
    assert len(replayed) == 4 and {e.id for e in replayed} == first  # same facts, same ids
    again = await ingest.client.post(
        f"/v1/sources/{source['id']}/replay", json=window, headers=admin
    )
    assert again.json()["unchanged"] == 2 and again.json()["events"] == 0
    await asyncio.sleep(0.5)
    assert len(await ingest.published("sextant.activity", 5)) == 4  # nothing new to say


async def test_replay_after_a_mapping_fix_revises_only_the_facts_it_changes(
    ingest: Ingest,
) -> None:
    source = await ingest.source("jira")
    for n, issue_type in enumerate(["Outage", "Story"]):
        body = json.dumps(payloads.jira_created(issue_type, key=f"OPS-{n}")).encode()
        headers = sign("jira", source["secret"], body, delivery=f"created-{n}")
        assert (await ingest.deliver(source, body, headers)).status_code == 202
    first = await ingest.published("sextant.activity", 2)
    assert sorted(e.data["work_item"]["item_type"] for e in first) == ["outage", "story"]
    [outage] = [e for e in first if e.data["work_item"]["item_type"] == "outage"]
    admin = ingest.as_role("tenant_admin")
    url = f"/v1/sources/{source['id']}"
    window = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}

    async def remap_and_replay(incident_types: list[str]) -> dict[str, object]:
        mapping = {"incident_types": incident_types}
        changed = await ingest.client.patch(url, json={"mapping": mapping}, headers=admin)
        assert changed.status_code == 200, changed.text
        replayed = await ingest.client.post(f"{url}/replay", json=window, headers=admin)
        assert replayed.status_code == 200, replayed.text
        reply: dict[str, object] = replayed.json()
        return reply

    fixed = await remap_and_replay(["incident", "outage"])
    assert (fixed["revised"], fixed["unchanged"], fixed["events"]) == (1, 1, 1)
    [revision] = (await ingest.published("sextant.activity", 3))[2:]
    # the same fact, said anew: same type, entity and order key, a new id, the fixed meaning
    assert (revision.type, revision.subject) == (outage.type, outage.subject)
    assert revision.id != outage.id and revision.data["work_item"]["item_type"] == "incident"

    again = await remap_and_replay(["incident", "outage"])
    assert (again["revised"], again["unchanged"], again["events"]) == (0, 2, 0)

    # Changed back, the old meaning is news again (not a copy of the first event).
    undone = await remap_and_replay(["incident"])
    assert (undone["revised"], undone["events"]) == (1, 1)
    published = await ingest.published("sextant.activity", 4)
    assert len(published) == 4 and len({e.id for e in published}) == 4
    assert published[3].data["work_item"]["item_type"] == "outage"


async def test_replaying_a_delivery_that_still_fails_does_not_notify_again(
    ingest: Ingest,
) -> None:
    source = await ingest.source("generic")
    body = json.dumps({"type": "deployment", "id": "d1", "sha": "abcdef1"}).encode()
    headers = sign("generic", source["secret"], body, delivery="msg-1")
    assert (await ingest.deliver(source, body, headers)).json()["outcome"] == "failed"
    window = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    replayed = await ingest.client.post(
        f"/v1/sources/{source['id']}/replay", json=window, headers=ingest.as_role("tenant_admin")
    )
    assert replayed.json()["outcomes"]["failed"] == 1
    await asyncio.sleep(0.5)  # for the relay to publish whatever the replay staged
    notices = await ingest.published("sextant.notifications", 1)
    # staged again, the same notice keeps its id (dropped by the outbox while the first is
    # unpublished, by the gateway's inbox after): the admins see it once
    assert len({(n.id, n.data["notification_id"]) for n in notices}) == 1


async def test_replay_refuses_bad_requests(ingest: Ingest) -> None:
    source = await ingest.source("jira")
    url = f"/v1/sources/{source['id']}/replay"
    backwards = await ingest.client.post(
        url,
        json={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=ingest.as_role("tenant_admin"),
    )
    _problem(backwards, 422, "'to' must be after 'from'")
    naive = await ingest.client.post(
        url,
        json={"from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00Z"},
        headers=ingest.as_role("tenant_admin"),
    )
    _problem(naive, 422, "timezone")
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    _problem(
        await ingest.client.post(url, json=window, headers=ingest.as_role("member")),
        403,
        "tenant_admin",
    )
    other = ingest.as_role("tenant_admin", OTHER_TENANT)
    _problem(await ingest.client.post(url, json=window, headers=other), 404, "no source")


async def test_a_soft_deleted_workspace_stops_its_webhooks_until_restored(ingest: Ingest) -> None:
    source = await ingest.source("github")
    body = json.dumps(payloads.github_push()).encode()

    async def announce(event: EventModel) -> None:
        envelope = Envelope.wrap(
            event, source="/sextant/gateway", tenantid=TENANT, workspaceid=WORKSPACE
        )
        await ingest.state.bus.publish(
            [record_for(envelope, LIFECYCLE.name, entity_key(TENANT, WORKSPACE, "workspace"))]
        )

    async def status_of(delivery: str, expect: int) -> int:
        for _ in range(60):  # the consumer applies the event; its NOTIFY drops the cached source
            response = await ingest.deliver(
                source, body, sign("github", source["secret"], body, delivery=delivery)
            )
            if response.status_code == expect:
                break
            await asyncio.sleep(0.1)
        return response.status_code

    await announce(WorkspaceSoftDeleted(restorable_until=datetime.now(UTC) + timedelta(days=30)))
    assert await status_of("while-deleted", 410) == 410
    shown = await ingest.client.get(
        f"/v1/sources/{source['id']}", headers=ingest.as_role("manager")
    )
    assert shown.json()["suspended"] is True
    await announce(WorkspaceRestored(restored_by="admin-1"))
    assert await status_of("after-restore", 202) == 202


async def test_overload_answers_429_with_retry_after_and_stores_nothing(ingest: Ingest) -> None:
    source = await ingest.source("github")
    body = json.dumps(payloads.github_push()).encode()
    ingest.state.extras["ingest"].in_flight.limit = 0  # as if every slot were taken
    try:
        response = await ingest.deliver(source, body, sign("github", source["secret"], body))
    finally:
        ingest.state.extras["ingest"].in_flight.limit = 256
    _problem(response, 429, "retry shortly")
    assert response.headers["retry-after"] == "1"
    assert (await ingest.sql("SELECT count(*) AS n FROM ingest.deliveries"))[0]["n"] == 0

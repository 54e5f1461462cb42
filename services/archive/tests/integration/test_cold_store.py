"""The cold store through the real consumer, PostgreSQL and object stores (a folder and
moto's S3): events archived once to Parquet parts the manifest names, and a missing
object, an altered object and an altered manifest entry each found by verification."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pyarrow.parquet as pq
import pytest

from sextant.archive import coldstore, purging
from sextant.archive.main import SPEC
from sextant.archive.settings import ArchiveSettings
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.platform import ConfigChanged, PurgeDone
from sextant.contracts.topics import CONFIG, LIFECYCLE, entity_key
from sextant.runtime.app import ServiceState, create_service_app
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore, ObjectStore, S3ObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.wiring import create_bus

NOW = datetime.now(UTC)
LATER = NOW + timedelta(days=1)  # every partition has aged by then
PURGE_TIME = datetime(2030, 1, 1, tzinfo=UTC)  # past every default hot period of 2026


def change(tenant: UUID, at: datetime, n: int, workspace: UUID | None = None) -> Envelope:
    envelope = Envelope.wrap(
        ConfigChanged(
            actor="admin", action="workspace.create", target_type="workspace", target_id=str(n)
        ),
        source="/sextant/gateway",
        tenantid=tenant,
        workspaceid=workspace,
        subject=f"workspace:{n}",
    )
    return envelope.model_copy(update={"time": at})


async def publish(state: ServiceState, envelopes: list[Envelope]) -> None:
    await state.bus.publish(
        [
            record_for(e, CONFIG.name, entity_key(e.tenantid, None, e.subject or ""))
            for e in envelopes
        ]
    )


async def staged(database_url: str, count: int) -> None:
    """Wait until ``count`` events are staged (the consumer handled them: waiting, or
    archived since)."""
    handled = (
        "SELECT (SELECT count(*) FROM archive.staged_events)"
        " + (SELECT count(*) FROM archive.archived_ids)"
    )
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with asyncio.timeout(30):
            while await conn.fetchval(handled) < count:
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def delivered_of(
    database_url: str, tenant: UUID, event_type: str, count: int
) -> list[dict[str, Any]]:
    """The data of the tenant's events of a type, as the bus delivered them to the archive
    (which consumes its own), once ``count`` are in."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with asyncio.timeout(30):
            while True:
                rows = await conn.fetch(
                    "SELECT data FROM archive.staged_events WHERE tenant_id = $1 AND type = $2",
                    tenant,
                    event_type,
                )
                if len(rows) >= count:
                    return [json.loads(r["data"]) for r in rows]
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def purge_requests(database_url: str, tenant: UUID, count: int) -> list[str]:
    """The manifest ids of the tenant's PurgeRequested events for archived objects (not
    its daily request for work items deleted in their tool)."""
    requested = await delivered_of(
        database_url, tenant, "sextant.lifecycle.purge.requested.v1", count + 1
    )
    return [r["manifest_id"] for r in requested if r["data_class"] != "deleted_work_items"]


@asynccontextmanager
async def archive(
    database_url: str, internal_keys: InternalKeys, store: ObjectStore
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceState]]:
    settings = service_settings(database_url, internal_keys)
    app = create_service_app(
        SPEC,
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=store,
        configure_logs=False,
    )
    async with running_app(app) as client:
        yield client, app.state.service


def admin_of(internal_keys: InternalKeys, tenant: UUID) -> dict[str, str]:
    token = internal_keys.signer.mint(
        service="archive", subject="admin-1", role="tenant_admin", tenant_id=tenant
    )
    return {"Authorization": f"Bearer {token}"}


async def object_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ObjectStore:
    if kind == "folder":
        return FolderObjectStore(tmp_path / "objects")
    s3 = S3ObjectStore(
        f"archive-{secrets.token_hex(4)}", endpoint_url=request.getfixturevalue("s3_endpoint")
    )
    await s3.ensure_bucket()
    return s3


SETTINGS = ArchiveSettings(part_max_events=3, part_max_age_seconds=3600)


async def test_events_are_archived_once_to_parquet_parts_the_manifest_names(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    tenant, other = uuid7(), uuid7()
    day1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    day2 = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    workspace = uuid7()
    events = [change(tenant, day1 + timedelta(minutes=n), n, workspace) for n in range(4)]
    events += [change(tenant, day2, 10), change(other, day1, 20)]
    store = FolderObjectStore(tmp_path / "objects")
    async with archive(database_url, internal_keys, store) as (client, state):
        await publish(state, events)
        await staged(database_url, 6)
        # Under both limits nothing is written; the full partition is, by size.
        assert await coldstore.flush_due(state, replace_settings(part_max_events=10), NOW) == 0
        assert await coldstore.flush_due(state, SETTINGS, NOW) == 1
        # Once aged, the rest: day 1's fourth event, day 2's, the other tenant's.
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 3
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 0

        prefix = f"tenant={tenant}/topic=sextant.config/"
        assert await store.list(f"tenant={tenant}/") == [
            f"{prefix}day=2026-03-01/part-00001.parquet",
            f"{prefix}day=2026-03-01/part-00002.parquet",
            f"{prefix}day=2026-03-02/part-00001.parquet",
        ]
        table = pq.read_table(
            io.BytesIO(await store.get(f"{prefix}day=2026-03-01/part-00001.parquet"))
        )
        assert table.column("id").to_pylist() == [str(e.id) for e in events[:3]]
        assert table.column("type").to_pylist() == ["sextant.config.changed.v1"] * 3
        assert '"action":"workspace.create"' in table.column("data")[0].as_py()

        # A redelivery the inbox no longer remembers is not archived again.
        async with state.db.transaction(tenant) as session:
            await SPEC.handlers[CONFIG.name](session, events[0])
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 0

        headers = admin_of(internal_keys, tenant)
        first = await client.get("/v1/archive/manifests", params={"limit": 2}, headers=headers)
        assert first.status_code == 200, first.text
        page1 = first.json()
        assert [m["seq"] for m in page1["items"]] == [1, 2]
        assert [m["event_count"] for m in page1["items"]] == [3, 1]
        assert page1["items"][0]["first_event_id"] == str(events[0].id)
        assert page1["items"][0]["last_event_id"] == str(events[2].id)
        assert page1["items"][1]["prev_hash"] == page1["items"][0]["row_hash"]
        assert page1["items"][0]["prev_hash"] == "0" * 64
        assert page1["items"][0]["workspace_ids"] == [str(workspace)]
        rest = await client.get(
            "/v1/archive/manifests",
            params={"limit": 2, "cursor": page1["next_cursor"]},
            headers=headers,
        )
        assert [m["day"] for m in rest.json()["items"]] == ["2026-03-02"]
        assert rest.json()["items"][0]["workspace_ids"] == []
        assert rest.json()["next_cursor"] is None
        by_day = await client.get(
            "/v1/archive/manifests", params={"since": "2026-03-02"}, headers=headers
        )
        assert [m["seq"] for m in by_day.json()["items"]] == [3]
        by_topic = await client.get(
            "/v1/archive/manifests", params={"topic": "sextant.activity"}, headers=headers
        )
        assert by_topic.json()["items"] == []

        verified = await client.post("/v1/archive/verify", headers=headers)
        assert verified.status_code == 200, verified.text
        assert verified.json() | {"findings": None} == {
            "intact": True,
            "objects": 3,
            "events": 5,
            "tombstones": 0,
            "first_bad_object": None,
            "findings": None,
        }
        bad = await client.get(
            "/v1/archive/manifests",
            params={"since": "2026-03-02", "until": "2026-03-01"},
            headers=headers,
        )
        assert bad.status_code == 400 and "since" in bad.json()["detail"]

        # Purges: none under a hold on a workspace of day 1's events (the first object of
        # the topic stops the run); each verified object once the hold is released.
        hold = await client.post(
            "/v1/legal-holds",
            json={"scope": f"workspace:{workspace}", "reason": "audit"},
            headers=headers,
        )
        assert hold.status_code == 201, hold.text
        held = await purging.request_purges(state, tenant, PURGE_TIME)
        assert held.requested == []
        assert held.held_back == [(1, f"a legal hold on workspace:{workspace} covers it")]
        released = await client.post(
            f"/v1/legal-holds/{hold.json()['id']}/release", headers=headers
        )
        assert released.status_code == 200
        # The scheduled run visits every tenant with archives: this one's 3, the other's 1,
        # and each one's work items deleted in their tool, each requested once though two
        # replicas run at the same time.
        runs = await asyncio.gather(
            purging.purge_all(state, PURGE_TIME), purging.purge_all(state, PURGE_TIME)
        )
        assert sum(runs) == 4 + 2
        # ... and, at that time, the archived events' ids are past the redelivery window.
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            kept = await conn.fetchval("SELECT count(*) FROM archive.archived_ids")
        finally:
            await conn.close()
        assert kept == 0
        ids = [m["id"] for m in page1["items"] + rest.json()["items"]]
        assert await purging.purge_all(state, PURGE_TIME) == 0  # each object once
        assert sorted(await purge_requests(database_url, tenant, 3)) == sorted(ids)
        requested = await delivered_of(
            database_url, tenant, "sextant.lifecycle.purge.requested.v1", 4
        )
        first = next(r for r in requested if r["manifest_id"] == ids[0])
        assert first | {"manifest_id": None} == {
            "manifest_id": None,
            "data_class": "audit_log",
            "topic": "sextant.config",
            "not_before": "2026-03-01T09:00:00Z",
            "older_than": "2026-03-01T09:02:00Z",
            "holds": [],  # the released hold is in force no more
            "scope": None,
            "workspace_id": None,
        }

        # An owner's answer is recorded against its request, once however often it comes.
        done = Envelope.wrap(
            PurgeDone(
                manifest_id=ids[0], service="gateway", rows_deleted=3, data_class="audit_log"
            ),
            source="/sextant/gateway",
            tenantid=tenant,
            subject=f"manifest:{ids[0]}",
        )
        key = entity_key(tenant, None, done.subject or "")
        await state.bus.publish([record_for(done, LIFECYCLE.name, key)] * 2)
        async with state.db.transaction(tenant) as session:  # redelivered, inbox forgotten
            await SPEC.handlers[LIFECYCLE.name](session, done)
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            async with asyncio.timeout(30):
                while not await conn.fetchval("SELECT count(*) FROM archive.purge_answers"):
                    await asyncio.sleep(0.05)
            answers = await conn.fetch(
                "SELECT manifest_id, data_class, service, rows_deleted FROM archive.purge_answers"
            )
        finally:
            await conn.close()
        assert [tuple(a) for a in answers] == [(UUID(ids[0]), "audit_log", "gateway", 3)]


def replace_settings(**changes: Any) -> ArchiveSettings:
    return SETTINGS.model_copy(update=changes)


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_a_store_that_is_down_loses_nothing_and_the_next_flush_writes_it(
    kind: str,
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    tenant = uuid7()
    down: ObjectStore
    if kind == "folder":
        blocked = tmp_path / "not-a-folder"
        blocked.write_text("a file where the store's folder should be")
        down = FolderObjectStore(blocked)
    else:  # a bucket that does not exist: every call is refused
        endpoint = request.getfixturevalue("s3_endpoint")
        down = S3ObjectStore(f"absent-{secrets.token_hex(4)}", endpoint_url=endpoint)
    async with archive(database_url, internal_keys, down) as (client, state):
        headers = admin_of(internal_keys, tenant)
        await publish(state, [change(tenant, NOW, n) for n in range(2)])
        await staged(database_url, 2)
        with pytest.raises(Exception):  # noqa: B017 - each backend fails its own way
            await coldstore.flush_due(state, SETTINGS, LATER)
        nothing = await client.get("/v1/archive/manifests", headers=headers)
        assert nothing.json()["items"] == []
        state.objects = await object_store(kind, tmp_path, request)
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 1
        reply = await client.get("/v1/archive/manifests", headers=headers)
        assert [(m["seq"], m["part"], m["event_count"]) for m in reply.json()["items"]] == [
            (1, 1, 2)
        ]
        # Two flushers (replicas) at once: one part, and the other finds nothing left.
        await publish(state, [change(tenant, NOW - timedelta(days=1), n) for n in range(2)])
        await staged(database_url, 4)
        both = await asyncio.gather(
            coldstore.flush_due(state, SETTINGS, LATER), coldstore.flush_due(state, SETTINGS, LATER)
        )
        assert sorted(both) == [0, 1]
        if kind == "s3":  # a store that refuses to answer verifies nothing: 503, not findings
            state.objects = down
            refused = await client.post("/v1/archive/verify", headers=headers)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", ["folder", "s3"])
async def test_verification_names_a_missing_object_an_altered_object_and_an_altered_entry(
    kind: str,
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    tenant = uuid7()
    store = await object_store(kind, tmp_path, request)
    days = [datetime(2026, 3, d, 12, 0, tzinfo=UTC) for d in (1, 2, 3, 4)]
    async with archive(database_url, internal_keys, store) as (client, state):
        await publish(state, [change(tenant, at, n) for n, at in enumerate(days)])
        await staged(database_url, 4)
        assert await coldstore.flush_due(state, SETTINGS, LATER) == 4
        headers = admin_of(internal_keys, tenant)
        keys = [
            m["object_key"]
            for m in (await client.get("/v1/archive/manifests", headers=headers)).json()["items"]
        ]

        await store.delete(keys[0])
        original = await store.get(keys[1])
        await store.put(keys[1], original[:-8] + b"\x00" * 8)
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            await conn.execute("UPDATE archive.manifests SET event_count = 2 WHERE seq = 3")
        finally:
            await conn.close()

        reply = await client.post("/v1/archive/verify", headers=headers)
        assert reply.status_code == 200, reply.text
        report = reply.json()
        assert report["intact"] is False and report["first_bad_object"] == keys[0]
        found = {(f["seq"], f["object_key"]) for f in report["findings"]}
        assert found == {(1, keys[0]), (2, keys[1]), (3, keys[2])}
        reasons = {f["seq"]: f["reason"] for f in report["findings"] if f["seq"] != 3}
        assert "missing" in reasons[1] and "altered" in reasons[2]
        entry3 = [f["reason"] for f in report["findings"] if f["seq"] == 3]
        assert any("manifest entry was altered" in r for r in entry3)

        # Nothing unverified is purged: the missing first object stops its topic's run.
        run = await purging.request_purges(state, tenant, PURGE_TIME)
        assert run.requested == []
        assert run.held_back == [(1, "unverified: the object is missing from the store")]
        # The tenant's admins are told, once however many runs find it (one notification id).
        await purging.request_purges(state, tenant, PURGE_TIME)
        notices = await delivered_of(database_url, tenant, "sextant.notifications.raised.v1", 2)
        assert {n["notification_id"] for n in notices} == {notices[0]["notification_id"]}
        assert notices[0]["severity"] == "error" and notices[0]["audience"] == ["tenant_admin"]
        assert keys[0] in notices[0]["body"] and "missing" in notices[0]["body"]

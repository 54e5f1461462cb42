"""The conformance cases, run on forecast's real Batched handler rather than the suite's toy
one: its service killed with SIGKILL mid-stream, then the broker or the database
restarted mid-stream, on both transports. The effects are forecast's own tables: each work
item created, moved to In Progress and resolved exactly once, in that order, and nothing
else (a lost event leaves an item short of Done or its history short; one applied twice or
out of order shows in the history and the inbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import (
    WorkItem,
    WorkItemCreated,
    WorkItemResolved,
    WorkItemTransitioned,
)
from sextant.contracts.events.common import SourceRef
from sextant.contracts.events.platform import ActivityAttributed
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.runtime.bus.base import EventBus, OutgoingRecord
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import record_for
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.plugin import InternalKeys, unavailable
from sextant.runtime.testing.servers import MotoS3, TansuBroker
from sextant.runtime.wiring import create_bus

pytestmark = pytest.mark.conformance

WORKER = Path(__file__).parent / "forecast_worker.py"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T1, T2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
HISTORY = ["To Do", "In Progress", "Done"]  # each item's, in order


class Stream:
    """One tenant's work items, each created, moved to In Progress and resolved: the
    attributed events forecast consumes, three per item, keyed by item."""

    def __init__(self, items: int, per_publish: int = 20) -> None:
        self.tenant, self.workspace, self.source = uuid7(), uuid7(), uuid7()
        self.items = items
        self.ids: list[UUID] = []  # every event's envelope id
        self.publishes = self._chunks(per_publish)

    def item(self, n: int, status: str, category: str) -> WorkItem:
        return WorkItem(
            source=SourceRef(kind="jira", source_id=self.source, external_id=f"K-{n}"),
            key=f"K-{n}",
            title=f"Story {n}",
            item_type="story",
            status=status,
            status_category=category,
            created_at=T0,
        )

    def attributed(self, n: int, type_name: str, event: Any) -> Envelope:
        data = ActivityAttributed(
            original_id=uuid7(), original_type=type_name, original=event.model_dump(mode="json")
        )
        return Envelope.wrap(
            data,
            source="/sextant/identity",
            tenantid=self.tenant,
            workspaceid=self.workspace,
            subject=f"K-{n}",
        )

    def _chunks(self, size: int) -> list[list[OutgoingRecord]]:
        """Publish calls of ``size`` items' three events each, interleaved across items as
        a busy partition's are, each item's own in order (created, moved, resolved)."""
        out = []
        for first in range(0, self.items, size):
            pending = {n: self._events(n) for n in range(first, min(first + size, self.items))}
            turns = [n for n in pending for _ in range(3)]
            random.Random(first).shuffle(turns)
            out.append([pending[n].pop(0) for n in turns])
        return out

    def _events(self, n: int) -> list[OutgoingRecord]:
        key = entity_key(self.tenant, self.workspace, f"K-{n}")
        envelopes = [
            self.attributed(
                n,
                "sextant.activity.work_item.created.v1",
                WorkItemCreated(work_item=self.item(n, "To Do", "todo"), occurred_at=T0),
            ),
            self.attributed(
                n,
                "sextant.activity.work_item.transitioned.v1",
                WorkItemTransitioned(
                    work_item=self.item(n, "In Progress", "in_progress"),
                    from_status="To Do",
                    to_status="In Progress",
                    from_category="todo",
                    to_category="in_progress",
                    occurred_at=T1,
                ),
            ),
            self.attributed(
                n,
                "sextant.activity.work_item.resolved.v1",
                WorkItemResolved(work_item=self.item(n, "Done", "done"), occurred_at=T2),
            ),
        ]
        self.ids += [e.id for e in envelopes]
        return [record_for(e, ACTIVITY_ATTRIBUTED.name, key) for e in envelopes]


def settings_for(database_url: str, keys: InternalKeys, bootstrap: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "database_url": database_url,
        "internal_token_public_key": keys.public_pem,
        "internal_token_private_key": keys.private_pem,
        "log_json": False,
        "log_level": "WARNING",
        "consumer_backoff_seconds": 0.05,
        "bus": "local",
    }
    if bootstrap:
        values.update(bus="kafka", kafka_bootstrap_servers=bootstrap)
    return values


def start_worker(settings: dict[str, Any], log_dir: Path) -> subprocess.Popen[str]:
    log = (log_dir / f"forecast-{secrets.token_hex(3)}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(WORKER)],
        env={**os.environ, "FORECAST_WORKER_SETTINGS": json.dumps(settings)},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "CONSUMING":
        raise AssertionError(f"worker said {line!r} (exit {process.poll()}), see {log.name}")
    return process


async def projected(database_url: str, stream: Stream) -> tuple[int, int, int, int]:
    """(items Done as expected, history rows, items whose history is not exactly
    To Do → In Progress → Done, inbox rows) for ``stream``'s tenant."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        done = await conn.fetchval(
            "SELECT count(*) FROM forecast.work_items WHERE tenant_id = $1 AND status = 'Done'"
            " AND state_since = $2 AND started_at = $3 AND done_at = $2 AND deleted_at IS NULL",
            stream.tenant,
            T2,
            T1,
        )
        history = await conn.fetchval(
            "SELECT count(*) FROM forecast.work_item_transitions WHERE tenant_id = $1",
            stream.tenant,
        )
        wrong = await conn.fetchval(
            "SELECT count(*) FROM (SELECT array_agg(to_status ORDER BY id) AS h"
            " FROM forecast.work_item_transitions WHERE tenant_id = $1 GROUP BY key) s"
            " WHERE h <> $2::text[]",
            stream.tenant,
            HISTORY,
        )
        inbox = await conn.fetchval(
            "SELECT count(*) FROM forecast.inbox WHERE event_id = ANY($1::uuid[])", stream.ids
        )
    except asyncpg.UndefinedTableError:
        return 0, 0, 0, 0
    finally:
        await conn.close()
    return int(done), int(history), int(wrong), int(inbox)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            if await check():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def publish_retrying(bus: EventBus, batch: list[OutgoingRecord]) -> None:
    """Publish, retrying while the broker or database is away (a copy is fine: the same
    envelope ids)."""
    while True:
        try:
            await bus.publish(batch)
            return
        except Exception:
            await asyncio.sleep(0.3)


def assert_effectively_once(counts: tuple[int, int, int, int], stream: Stream) -> None:
    done, history, wrong, inbox = counts
    assert done == stream.items, "an item not Done as its three events leave it"
    assert history == 3 * stream.items, "a transition lost or doubled"
    assert wrong == 0, "an item's history out of order"
    assert inbox == 3 * stream.items, "an event not claimed exactly once"


@pytest.fixture(params=["local", "kafka"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_forecast_killed_mid_stream_loses_and_doubles_no_transition(
    bus_kind: str,
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    bootstrap = request.getfixturevalue("kafka_bootstrap") if bus_kind == "kafka" else None
    settings = settings_for(database_url, internal_keys, bootstrap)
    stream, kills = Stream(items=240), 2
    rng = random.Random(20261206)
    first = start_worker(settings, tmp_path)  # migrates, makes the topics
    bus = create_bus(RuntimeSettings.model_validate(settings))
    await bus.start()

    async def produce() -> None:
        for chunk in stream.publishes:  # 60 events every 0.4 s: ~5 s of work arriving
            await publish_retrying(bus, chunk)
            await asyncio.sleep(0.4)

    producer = asyncio.create_task(produce())
    worker = first
    try:
        for kill in range(kills):
            if kill:
                worker = start_worker(settings, tmp_path)
            before = (await projected(database_url, stream))[3]

            async def progressed(n: int = before) -> bool:
                return (await projected(database_url, stream))[3] > n

            with contextlib.suppress(AssertionError):  # the stream may be over already
                await wait_for(progressed, 30, "the new worker to make progress")
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
        await producer
        survivor = start_worker(settings, tmp_path)

        async def complete() -> bool:
            return (await projected(database_url, stream))[3] >= 3 * stream.items

        await wait_for(complete, 120, "every event after the kills")
        await asyncio.sleep(1)  # anything doubled would land now
        survivor.send_signal(signal.SIGTERM)
        await asyncio.to_thread(survivor.wait, 30)
        counts = await projected(database_url, stream)
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        await bus.stop()
    assert_effectively_once(counts, stream)


@pytest.fixture
def restartable_broker(s3_endpoint: str, tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own, so restarting it disturbs no other test."""
    bucket = f"tansu-{secrets.token_hex(4)}"
    try:
        MotoS3.create_bucket_at(s3_endpoint, bucket)
        broker = TansuBroker(s3_endpoint, bucket, tmp_path)
        broker.start()
    except Exception as exc:
        unavailable("tansu broker", exc)
    yield broker
    broker.stop()


async def test_broker_or_database_restarted_under_forecast_loses_and_doubles_no_transition(
    bus_kind: str,
    database_url: str,
    internal_keys: InternalKeys,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    restart: Callable[[], None]
    if bus_kind == "kafka":
        broker: TansuBroker = request.getfixturevalue("restartable_broker")
        settings = settings_for(database_url, internal_keys, broker.bootstrap)
        restart = lambda: broker.restart(down_seconds=2)  # noqa: E731
    else:
        server = EmbeddedPostgres(tmp_path / "restartable-pg")
        database_url = server.start()
        request.addfinalizer(server.destroy)
        settings = settings_for(database_url, internal_keys, None)

        def restart() -> None:
            server.kill()
            time.sleep(2)
            server.start()

    stream = Stream(items=240)
    worker = start_worker(settings, tmp_path)
    bus = create_bus(RuntimeSettings.model_validate(settings))
    await bus.start()

    async def produce() -> None:
        for chunk in stream.publishes:
            await publish_retrying(bus, chunk)
            await asyncio.sleep(0.1)

    producer = asyncio.create_task(produce())
    try:

        async def flowing() -> bool:
            return (await projected(database_url, stream))[3] >= 90

        await wait_for(flowing, 60, "the stream to flow")
        await asyncio.to_thread(restart)
        await producer

        async def complete() -> bool:
            return (await projected(database_url, stream))[3] >= 3 * stream.items

        await wait_for(complete, 120, "every event after the restart")
        await asyncio.sleep(1)
        counts = await projected(database_url, stream)
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
        worker.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.wait)
        await bus.stop()
    assert_effectively_once(counts, stream)

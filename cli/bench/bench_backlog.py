"""A backfill's backlog through the spine: activity events attributed by identity and
projected by forecast, the two services running together (as `sextant run` has them, one
process, the local bus on one embedded PostgreSQL), then end-to-end latency at half the
rate measured.

    .venv/bin/python cli/bench/bench_backlog.py [--events 100000] [--latency-seconds 20]

- **warm-up**: each of 200 developers' first item, attributed one at a time: the backlog
  is of people identity knows, as a year of one team's history mostly is.
- **backlog**: ``--events`` work items created (one tenant, one workspace, ingest's topic
  and keys) are published first, 500 a call; the clock runs from the first publish to
  the last item in forecast's projection. Events/s is the whole path: identity's consumer
  (Batched), its outbox and relay, forecast's consumer (Batched).
- **latency**: then items are published one at a time at 50 % of the backlog rate for
  ``--latency-seconds``; each one's latency is from its publish to its row in forecast's
  projection (polled every 5 ms, so a figure is at most 5 ms late). p50 and p99.
- the backlog's Python CPU time per event (the one process running both services): on a
  shared box the rate is what the other work leaves; this moves less.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import WorkItem, WorkItemCreated
from sextant.contracts.events.common import Actor, SourceRef
from sextant.contracts.topics import ACTIVITY, entity_key
from sextant.forecast.main import SPEC as FORECAST
from sextant.identity import attribution
from sextant.identity.handlers import OUTBOX
from sextant.identity.main import SPEC as IDENTITY
from sextant.runtime.app import ServiceState
from sextant.runtime.bus.base import EventBus
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import record_for
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.apps import running_service
from sextant.runtime.tokens import generate_keypair

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
NOW = datetime(2026, 3, 4, tzinfo=UTC)
PEOPLE = 200


def created(n: int) -> Envelope:
    """Work item BL-n created, assigned to one of ``PEOPLE`` developers."""
    person = n % PEOPLE
    item = WorkItem(
        source=SourceRef(kind="jira", source_id=SOURCE, external_id=f"BL-{n}"),
        key=f"BL-{n}",
        title=f"Backfilled story {n}",
        item_type="story",
        status="To Do",
        status_category="todo",
        assignee=Actor(
            kind="jira",
            account_id=f"acct-{person}",
            email=f"dev{person}@corp.example.org",
            display_name=f"Developer Number{person}",
        ),
        created_at=NOW,
    )
    return Envelope.wrap(
        WorkItemCreated(work_item=item, occurred_at=NOW),
        source="/sextant/ingest",
        tenantid=TENANT,
        workspaceid=WORKSPACE,
        subject=item.key,
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * p / 100) - 1, 0)]


async def warm_up(identity: ServiceState, conn: asyncpg.Connection) -> None:
    """Every developer's first item, attributed one at a time, so the backlog is of people
    identity knows (a year of one team's history) and names no new alias."""
    for n in range(PEOPLE):
        async with identity.db.transaction(TENANT) as session:
            await attribution.attribute(session, OUTBOX, created(n))
    while await conn.fetchval("SELECT count(*) FROM forecast.work_items") < PEOPLE:
        await asyncio.sleep(0.05)


async def backlog(bus: EventBus, conn: asyncpg.Connection, events: int) -> tuple[float, float]:
    """Events/s from the first publish to the last item projected, and this process's CPU
    time per event in ms (both services' Python: a figure a busy, shared box disturbs
    less than the rate; PostgreSQL's own CPU is not in it)."""
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(PEOPLE, PEOPLE + events, 500):
        await bus.publish(
            [
                record_for(e, ACTIVITY.name, entity_key(TENANT, WORKSPACE, e.subject or ""))
                for e in map(created, range(first, min(first + 500, PEOPLE + events)))
            ]
        )
    while await conn.fetchval("SELECT count(*) FROM forecast.work_items") < PEOPLE + events:
        await asyncio.sleep(0.05)
    return events / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / events


async def latencies(
    bus: EventBus, conn: asyncpg.Connection, first: int, rate: float, seconds: float
) -> list[float]:
    """Milliseconds from publish to projection, items sent one at a time at ``rate``/s."""
    sent: dict[str, float] = {}
    seen: list[float] = []
    count = int(rate * seconds)
    done = asyncio.Event()

    async def watch() -> None:
        while not (done.is_set() and not sent):
            if sent:
                rows = await conn.fetch(
                    "SELECT key FROM forecast.work_items WHERE key = ANY($1::text[])", list(sent)
                )
                now = time.perf_counter()
                for row in rows:
                    seen.append((now - sent.pop(row["key"])) * 1000)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        envelope = created(first + i)
        key = entity_key(TENANT, WORKSPACE, envelope.subject or "")
        sent[envelope.subject or ""] = time.perf_counter()
        await bus.publish([record_for(envelope, ACTIVITY.name, key)])
    done.set()
    await asyncio.wait_for(watcher, 120)
    return seen


async def main(events: int, latency_seconds: float) -> int:
    with tempfile.TemporaryDirectory(prefix="sextant-backlog-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = await asyncio.to_thread(postgres.start)
        private_pem, public_pem = generate_keypair()
        settings = RuntimeSettings.model_validate(
            {
                "database_url": url,
                "internal_token_public_key": public_pem,
                "internal_token_private_key": private_pem,
                "bus": "local",
                "data_dir": tmp,
                "log_level": "WARNING",
                "log_json": False,
            }
        )
        dsn = plain_dsn(url)
        try:
            async with (
                running_service(IDENTITY, settings) as (_, identity),
                running_service(FORECAST, settings),
            ):
                conn = await asyncpg.connect(dsn)
                try:
                    await warm_up(identity, conn)
                    rate, cpu_ms = await backlog(identity.bus, conn, events)
                    first = PEOPLE + events
                    seen = await latencies(identity.bus, conn, first, rate / 2, latency_seconds)
                finally:
                    await conn.close()
        finally:
            await asyncio.to_thread(postgres.stop)
    print(
        f"backlog: {events:,} work items created, attributed by identity and projected by"
        " forecast (local bus, one process)"
    )
    print(f"  {rate:,.0f} events/s from first publish to last projected")
    print(f"  {cpu_ms:.2f} ms of the services' Python CPU per event")
    print(
        f"  latency at 50 % of that rate ({rate / 2:,.0f}/s, {len(seen):,} items one at a time):"
        f" p50 {statistics.median(seen):.0f} ms   p99 {pct(seen, 99):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.events, arguments.latency_seconds)))

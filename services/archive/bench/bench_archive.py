"""Archive throughput: events archived to Parquet parts and verified, per second, next
to a plain pyarrow write of the same rows in the same run.

    .venv/bin/python services/archive/bench/bench_archive.py [--events 100000] [--runs 3]

One tenant, one topic, one UTC day, on real PostgreSQL (embedded) and the folder object
store. Phases, as the service runs them:

- **direct** (a backlog, the path the target is for): the consumer's handler given
  batches of ``--batch`` (50,000, ``handlers.BATCH``) events as the consumer hands them
  over (no inbox claimed, see ``Batched.claims_inbox``), each written as a part of its
  own: ids claimed in ``archived_ids``, a zstd Parquet part built, stored, read back and
  verified, its manifest entry chained, committed;
- **verify**: every part of the tenant re-read, its SHA-256, count and id range checked,
  the chain too;
- **staged** (a trickle, for comparison): another tenant's same number of events, 1,000
  a batch (under ``direct_part_min_events``), staged, then written by the flusher as
  parts of 50,000 (each read back and verified).

- **restore**: a restore of the whole day (``restoring.run_restore``: every part
  re-verified, its events published again as replays on the bus, each part's progress
  recorded); next to the bus's plain publish rate of
  the same events as records (``EventBus.publish``, 500 a call as the relay sends them).
  The bench's app consumes nothing (the replays are not handled back).

"archived and verified" is events over the direct and verify phases' wall time; "per core" divides by
the CPU seconds this process and PostgreSQL's backends spent (both measured), so a box
with other load reads the same. The baseline is ``pyarrow.parquet.write_table`` (zstd) of
the same rows from Python lists, to memory. Medians over ``--runs``. Target (issue #18):
>= 50,000 events/s per core archived and verified, restore >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from sextant.archive import coldstore, restoring
from sextant.archive.db import replays
from sextant.archive.domain.parts import SCHEMA
from sextant.archive.handlers import BATCH, handlers
from sextant.archive.main import SPEC
from sextant.archive.settings import ArchiveSettings
from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import WorkItem, WorkItemCreated
from sextant.contracts.events.common import SourceRef
from sextant.contracts.topics import ACTIVITY, entity_key
from sextant.runtime.app import ServiceState, create_service_app, current_service
from sextant.runtime.consumer import Batched
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.objectstore import FolderObjectStore
from sextant.runtime.outbox import record_for
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.apps import running_app
from sextant.runtime.tokens import generate_keypair
from sextant.runtime.wiring import create_bus

TRICKLE = 1000
DAY = datetime(2026, 3, 4, tzinfo=UTC)


def events(n: int) -> list[Envelope]:
    tenant, workspace, source = uuid7(), uuid7(), uuid7()
    out = []
    for i in range(n):
        item = WorkItem(
            source=SourceRef(kind="jira", source_id=source, external_id=f"PROJ-{i}"),
            key=f"PROJ-{i}",
            title=f"Story {i}: make the thing do what it should",
            item_type="story",
            status="To Do",
            status_category="todo",
            created_at=DAY,
        )
        envelope = Envelope.wrap(
            WorkItemCreated(work_item=item, occurred_at=DAY),
            source="/sextant/ingest",
            tenantid=tenant,
            workspaceid=workspace,
            subject=item.key,
        )
        out.append(envelope.model_copy(update={"time": DAY + timedelta(milliseconds=i)}))
    return out


def cpu_seconds(pg_pid: int) -> float:
    """This process's CPU time plus every PostgreSQL process's (backends included)."""
    total = time.process_time()
    try:
        root = psutil.Process(pg_pid)
        for p in [root, *root.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
    except psutil.Error:
        pass
    return total


def pyarrow_baseline(batch: list[Envelope]) -> tuple[float, float]:
    """Wall and CPU seconds to write the same rows with pyarrow alone (zstd, to memory)."""
    import orjson

    started, cpu = time.perf_counter(), time.process_time()
    columns = {
        "id": [str(e.id) for e in batch],
        "specversion": [e.specversion for e in batch],
        "source": [e.source for e in batch],
        "type": [e.type for e in batch],
        "subject": [e.subject for e in batch],
        "time": [e.time for e in batch],
        "datacontenttype": [e.datacontenttype for e in batch],
        "dataschema": [e.dataschema for e in batch],
        "tenantid": [str(e.tenantid) for e in batch],
        "workspaceid": [str(e.workspaceid) for e in batch],
        "traceparent": [e.traceparent for e in batch],
        "data": [orjson.dumps(e.data).decode() for e in batch],
    }
    table = pa.Table.from_pydict(columns, schema=SCHEMA)
    pq.write_table(table, io.BytesIO(), compression="zstd")
    return time.perf_counter() - started, time.process_time() - cpu


async def restore_rate(
    state: ServiceState, pg_pid: int, tenant: UUID, n: int
) -> tuple[float, float]:
    """Events/s of a restore of the whole day (its last event on the bus), wall and per core."""
    restore = replays.Restore(
        id=uuid7(),
        tenant_id=tenant,
        topics=[ACTIVITY.name],
        since=DAY,
        until=DAY + timedelta(days=1),
        workspace_id=None,
        status="running",
        objects_total=None,
        objects_done=0,
        events_published=0,
        after_seq=0,
        failure=None,
        requested_by="bench",
        created_at=datetime.now(UTC),
        finished_at=None,
    )
    async with state.db.transaction(tenant) as session:
        await replays.create(session, restore)
    started, cpu = time.perf_counter(), cpu_seconds(pg_pid)
    await restoring.run_restore(state, restore)  # returns once its last event is on the bus
    async with state.db.transaction(tenant) as session:
        done = await replays.get(session, tenant, restore.id)
    assert done is not None and done.events_published == n, done
    return n / (time.perf_counter() - started), n / (cpu_seconds(pg_pid) - cpu)


async def bus_publish_rate(
    state: ServiceState, pg_pid: int, batch: list[Envelope]
) -> tuple[float, float]:
    """Events/s of the bus publishing the same events as ready records, 500 a call, wall
    and per core."""
    records = [
        record_for(e, ACTIVITY.name, entity_key(e.tenantid, e.workspaceid, e.subject or ""))
        for e in batch
    ]
    started, cpu = time.perf_counter(), cpu_seconds(pg_pid)
    for i in range(0, len(records), 500):
        await state.bus.publish(records[i : i + 500])
    n = len(records)
    return n / (time.perf_counter() - started), n / (cpu_seconds(pg_pid) - cpu)


async def handled(state: ServiceState, handler: Batched, batch: list[Envelope], size: int) -> None:
    """``batch`` through the archive's handler as the consumer hands it over: ``size`` a
    transaction, in the running service's context."""
    tenant = batch[0].tenantid
    entered = current_service.set(state)
    try:
        for i in range(0, len(batch), size):
            async with state.db.transaction(tenant) as session:
                await handler.handle_many(session, batch[i : i + size])
    finally:
        current_service.reset(entered)


async def one_run(
    url: str, pg_pid: int, tmp: Path, n: int, size: int, run: int
) -> dict[str, float]:
    _, public_pem = generate_keypair()
    settings = RuntimeSettings.model_validate(
        {
            "database_url": url,
            "internal_token_public_key": public_pem,
            "bus": "local",
            "data_dir": str(tmp),
            "log_level": "WARNING",
        }
    )
    store = FolderObjectStore(tmp / f"objects-{run}")
    app = create_service_app(
        replace(SPEC, handlers={}),  # archived by calling the handler; replays not consumed
        settings,
        bus_factory=lambda: create_bus(settings),
        objects=store,
        configure_logs=False,
    )
    handler = handlers()[ACTIVITY.name]
    assert isinstance(handler, Batched)
    batch, trickle = events(n), events(n)
    tenant = batch[0].tenantid
    flush = ArchiveSettings(part_max_events=50_000, part_max_age_seconds=1)
    async with running_app(app):
        state = app.state.service
        state.extras["archive_settings"] = flush
        cpu0, t0, own0 = cpu_seconds(pg_pid), time.perf_counter(), time.process_time()
        await handled(state, handler, batch, size)
        t1, cpu_direct = time.perf_counter(), cpu_seconds(pg_pid)
        report = await coldstore.verify_tenant(state, tenant)
        t2, cpu1, own1 = time.perf_counter(), cpu_seconds(pg_pid), time.process_time()
        await handled(state, handler, trickle, TRICKLE)
        later = datetime.now(UTC) + timedelta(days=1)
        parts = await coldstore.flush_due(state, flush, later)
        t3, cpu_staged = time.perf_counter(), cpu_seconds(pg_pid)
        restored = await restore_rate(state, pg_pid, tenant, n)
        published = await bus_publish_rate(state, pg_pid, batch)
    assert report.events == n and not report.findings, report.findings
    assert report.objects == -(-n // size)
    assert parts == -(-n // 50_000)
    baseline = pyarrow_baseline(batch)
    return {
        "direct": n / (t1 - t0),
        "direct per core": n / (cpu_direct - cpu0),
        "verify": n / (t2 - t1),
        "verify per core": n / (cpu1 - cpu_direct),
        "archived and verified": n / (t2 - t0),
        "per core": n / (cpu1 - cpu0),
        "per core of Python alone": n / (own1 - own0),
        "staged path (trickle)": n / (t3 - t2),
        "staged path per core": n / (cpu_staged - cpu1),
        "restore, on the bus": restored[0],
        "restore per core": restored[1],
        "bus publish alone": published[0],
        "bus publish per core": published[1],
        "pyarrow alone": n / baseline[0],
        "pyarrow alone per core": n / baseline[1],
    }


async def main(n: int, size: int, runs: int) -> int:
    # the service's own flusher waits: the bench times the flush itself
    os.environ["SEXTANT_ARCHIVE_FLUSH_CHECK_SECONDS"] = "3600"
    os.environ["SEXTANT_ARCHIVE_RESTORE_CHECK_SECONDS"] = "3600"
    with tempfile.TemporaryDirectory(prefix="sextant-archive-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = await asyncio.to_thread(postgres.start)
        pg_pid = postgres.postmaster_pid() or -1
        try:
            results = [await one_run(url, pg_pid, Path(tmp), n, size, r) for r in range(runs)]
        finally:
            await asyncio.to_thread(postgres.stop)
    print(
        f"archive, {n:,} events of one tenant/topic/day, {size:,} a batch, "
        f"median of {runs} runs (load average {os.getloadavg()[0]:.1f})"
    )
    medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
    for name, rate in medians.items():
        print(f"  {name:24} {rate:>12,.0f} events/s")
    ratio = medians["pyarrow alone per core"] / medians["per core"]
    print(f"  per core, pyarrow alone is {ratio:.1f}x the archive's archived-and-verified rate")
    verdict = "met" if medians["per core"] >= 50_000 else "NOT met"
    print(f"target: >= 50,000 events/s per core archived and verified: {verdict}")
    ratio = medians["bus publish alone"] / medians["restore, on the bus"]
    per_core = medians["bus publish per core"] / medians["restore per core"]
    print(f"  the bus alone publishes {ratio:.1f}x the restore's rate ({per_core:.1f}x per core)")
    verdict = "met" if medians["restore, on the bus"] >= 20_000 else "NOT met"
    print(f"target: restore >= 20,000 events/s: {verdict}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.events, arguments.batch, arguments.runs)))

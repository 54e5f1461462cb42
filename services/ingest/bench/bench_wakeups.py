"""How long a queued check run waits for the poster: woken by the queuing commit's NOTIFY
(now) against the plain poll it replaced, at that poll's interval (1 s), in the same process.

    .venv/bin/python services/ingest/bench/bench_wakeups.py [--items 50]

Ingest runs in this process on an embedded PostgreSQL. Each item is a gate evaluation
recorded as the consumer records it (``record_evaluation``, its own transaction), for a
source that does not exist, so the poster's attempt is ``skipped`` at once, with no HTTP;
its wait is from the commit to the time the attempt recorded (``updated_at``: its claim
and one read later). Items go one at a time, each a random part of the interval after
the last was taken, so the poll is met at every phase. "poll" is the same loop with the
listener's wait turned into a plain sleep of the fallback interval: what the poster did
before, at its default then (1 s; the fallback's default is 30 s now, the bench sets 1 s
for both phases). The commit lister waits in the same loop (queue_worker.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from sextant.contracts import uuid7
from sextant.ingest.checks import CheckRunPoster
from sextant.ingest.db import check_runs
from sextant.ingest.db import checks as repository
from sextant.ingest.main import SPEC
from sextant.ingest.settings import IngestSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.logging import configure_logging
from sextant.runtime.testing.apps import running_on_embedded_postgres

TENANT = uuid7()


async def waited(state: ServiceState, item: int) -> float:
    """Queue one check run; seconds from its commit to the poster's attempt."""
    now = datetime.now(UTC)
    async with state.db.transaction(TENANT) as session:
        await repository.record_evaluation(
            session,
            TENANT,
            uuid7(),  # no such source: the attempt is skipped, nothing is sent
            repository="acme/web",
            sha="f" * 40,
            environment=f"bench-{item}",
            evaluation_id=uuid7(),
            evaluated_at=now,
            verdict="pass",
            summary="",
            now=now,
        )
    committed = datetime.now(UTC)
    c = check_runs
    attempt = sa.select(c.c.updated_at).where(
        (c.c.environment == f"bench-{item}") & (c.c.status != "pending")
    )
    async with asyncio.timeout(30):
        while True:
            async with state.db.transaction(TENANT) as session:
                attempted = await session.scalar(attempt)
            if attempted is not None:
                return float((attempted - committed).total_seconds())
            await asyncio.sleep(0.005)


OLD_POLL_SECONDS = 1.0  # the poster's poll before it was woken by NOTIFY


async def phase(state: ServiceState, items: int, interval: float, first: int) -> list[float]:
    waits = []
    for item in range(first, first + items):
        await asyncio.sleep(random.uniform(0, interval))  # not a secret: the poll's phase
        waits.append(await waited(state, item))
    return waits


def summary(name: str, waits: list[float]) -> str:
    ms = sorted(w * 1000 for w in waits)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return f"  {name:7} median {statistics.median(ms):8.1f} ms   p90 {p90:8.1f}   max {ms[-1]:8.1f}"


async def main(items: int) -> int:
    configure_logging("WARNING", json=False)
    os.environ["SEXTANT_INGEST_CHECK_RUN_POLL_SECONDS"] = str(OLD_POLL_SECONDS)
    interval = IngestSettings().check_run_poll_seconds
    async with running_on_embedded_postgres(SPEC) as (_, state, _url):
        poster: CheckRunPoster = state.extras["check_run_poster"]
        wakeup = poster.worker.wakeup
        woken = wakeup.wait
        started = time.perf_counter()
        # each phase after a whole interval, so no wait of the other kind is under way
        wakeup.wait = asyncio.sleep  # type: ignore[method-assign]
        await asyncio.sleep(interval)
        polled = await phase(state, items, interval, 0)
        wakeup.wait = woken  # type: ignore[method-assign]
        await asyncio.sleep(interval)
        notified = await phase(state, items, interval, items)
    print(
        f"queued check run -> the poster's attempt, {items} items each way, fallback"
        f" interval {interval:g} s ({time.perf_counter() - started:.0f} s)"
    )
    print(summary("poll", polled))
    print(summary("notify", notified))
    print(
        f"  ratio notify / poll (medians): {statistics.median(notified) / statistics.median(polled):.3f}"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    sys.exit(asyncio.run(main(parser.parse_args().items)))

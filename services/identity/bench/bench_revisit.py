"""Revisiting a tenant's name links: time of one revisit on real PostgreSQL, median of runs.

    .venv/bin/python services/identity/bench/bench_revisit.py [--people 3000] [--runs 3]

The tenant: ``--people`` developers, each seen under one name at two addresses (so the
second alias was placed by a name link); a tenth of them with common names (140 names of
20 given names and 7 surnames, two people each: merges early, suggestions later), the
rest with a coined name beside a common given name or surname. Each run revisits the
whole tenant (``service.revisit``, as the route and the background loop do) in a
transaction that is rolled back, so every run does the same work. The baseline, in the
same run: the reads the revisit made before it was set-based, one query pair per developer
(``repository.aliases_of`` for each developer it looks at).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import Commit, CommitsPushed
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.identity import attribution, service
from sextant.identity.db import repository
from sextant.identity.handlers import OUTBOX
from sextant.identity.main import SPEC
from sextant.runtime.app import ServiceState
from sextant.runtime.testing.apps import running_on_embedded_postgres

TENANT = uuid7()
NOW = datetime(2026, 3, 4, tzinfo=UTC)
SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "vas", "zel", "qui", "dor", "fen"]


class _Undo(Exception):
    """Raised to roll a measured revisit back."""


def name_of(n: int) -> str:
    if n % 10 == 0:  # a common name
        return f"Given{(n // 10) % 20} Sur{(n // 10) % 7}"  # 140 names, two people each
    coined = "".join(SYLLABLES[(n // 10**i) % 10] for i in range(4)).capitalize()
    # The others carry a common given name or surname with a coined one, so the common
    # names' words are shared by many names, as in a real tenant.
    return f"Given{n % 20} {coined}" if n % 2 else f"{coined} Sur{n % 7}"


def push(actors: list[Actor], n: int) -> Envelope:
    data = CommitsPushed(
        source=SourceRef(kind="generic", source_id=TENANT, external_id="p"),
        repository=Repository(external_id="1", full_name="o/r"),
        branch="main",
        after_sha="f" * 40,
        commits=[
            Commit(sha=f"{n:020x}{i:020x}", title="c", author=a, authored_at=NOW)
            for i, a in enumerate(actors)
        ],
        occurred_at=NOW,
    )
    return Envelope.wrap(data, source="/sextant/ingest", tenantid=TENANT, subject=f"p{n}")


async def seed(state: ServiceState, people: int) -> None:
    """Each person's two aliases in one event; a hundred events a transaction."""
    for start in range(0, people, 100):
        envelopes = []
        for n in range(start, min(start + 100, people)):
            name = name_of(n)
            envelopes.append(
                push(
                    [
                        Actor(kind="generic", display_name=name, email=f"p{n}@home{n}.test"),
                        Actor(kind="generic", display_name=name, email=f"p{n}@work{n}.test"),
                    ],
                    n,
                )
            )
        async with state.db.transaction(TENANT) as session:
            await attribution.attribute_many(session, OUTBOX, envelopes)


async def timed_revisit(state: ServiceState) -> tuple[float, service.Revisit]:
    change = service.Change(tenant=TENANT, actor="bench", outbox=OUTBOX)
    try:
        async with state.db.transaction(TENANT) as session:
            started = time.perf_counter()
            done = await service.revisit(session, change)
            elapsed = (time.perf_counter() - started) * 1000
            raise _Undo
    except _Undo:
        return elapsed, done


async def timed_reads_per_developer(state: ServiceState) -> tuple[float, int]:
    """The revisit's reads before it was set-based: each developer's aliases, one by one."""
    async with state.db.transaction(TENANT) as session:
        started = time.perf_counter()
        placed = await repository.aliases_placed_by_name(session, TENANT)
        developers = sorted({a.developer_id for a in placed})
        for developer in developers:
            await repository.aliases_of(session, TENANT, developer)
        return (time.perf_counter() - started) * 1000, len(developers)


async def main(people: int, runs: int) -> int:
    async with running_on_embedded_postgres(SPEC) as (_, state, _url):
        await seed(state, people)
        revisits, baseline, done, developers = [], [], None, 0
        for _ in range(runs):  # interleaved, so both see the same box
            ms, done = await timed_revisit(state)
            revisits.append(ms)
            ms, developers = await timed_reads_per_developer(state)
            baseline.append(ms)
    assert done is not None
    revisit, reads = statistics.median(revisits), statistics.median(baseline)
    print(
        f"revisit of a tenant of {people:,} people ({developers:,} developers holding a name-placed"
        f" alias; {done.suggested} split suggestions, {done.rescored} merge suggestions rescored),"
        f" median of {runs} runs"
    )
    print(f"  revisit, whole:                          {revisit:8.1f} ms")
    print(f"  baseline: its old reads, one per developer {reads:8.1f} ms")
    print(f"  ratio revisit / baseline:                {revisit / reads:8.2f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.people, arguments.runs)))

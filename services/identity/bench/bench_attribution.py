"""Incremental attribution: time per activity event on real PostgreSQL, p50 and p99.

    .venv/bin/python services/identity/bench/bench_attribution.py [--events 3000] [--batch 100]

Each event names two actors from a population of 1,000 people (seen before, so this is
the steady state); one event in ten brings a new alias. Two phases:

- **backlog**: what the consumer does while events wait, as they do whenever the stream
  runs faster than one transaction per event can follow. The events come ``--batch`` at a
  time (the handler's ``Batched.max_batch``), as the consumer hands them over: claimed in
  the inbox and attributed in one transaction, then committed. Per event is each batch's
  time, commit included, over its events; p50 and p99 are over the batches, and the
  rate is events per second of the whole phase.
- **one at a time**: an event alone in its transaction, as when the consumer is idle and
  latency is all there is. "handler" is the attribution work inside the transaction
  (lookups, new aliases and keys, the attributed copy into the outbox); "with commit"
  adds the transaction's commit. Both are also shown split by events whose aliases are
  all known and events bringing a new alias.

After the warm-up the identity tables are analyzed (as autovacuum does in a running
database); ``--no-analyze`` leaves them to the activity handler, which analyzes those that
outgrew their statistics on the backlog's first batch (handlers.STATISTICS; the warm-up
goes around the handler, so it runs with the fresh tables' empty statistics).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime

import asyncpg

from sextant.contracts import Envelope, uuid7
from sextant.contracts.events.activity import ChangeRequest, ChangeRequestMerged
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.contracts.topics import ACTIVITY
from sextant.identity import attribution
from sextant.identity.db import spine
from sextant.identity.handlers import HANDLERS, OUTBOX
from sextant.identity.main import SPEC
from sextant.runtime.consumer import Batched
from sextant.runtime.db import plain_dsn
from sextant.runtime.outbox import claim_inbox_many
from sextant.runtime.testing.apps import running_on_embedded_postgres

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
NOW = datetime(2026, 3, 4, tzinfo=UTC)


def person(n: int, variant: int = 0) -> Actor:
    kinds = ["github", "gitlab", "jira"]
    return Actor(
        kind=kinds[(n + variant) % 3],  # type: ignore[arg-type]
        account_id=f"{n}-{variant}",
        login=f"dev{n}" if variant == 0 else None,
        email=f"dev{n}@corp.example.org",
        display_name=f"Developer Number{n}",
    )


def event(author: Actor, merger: Actor, n: int) -> Envelope:
    cr = ChangeRequest(
        source=SourceRef(kind="github", source_id=SOURCE, external_id=str(n)),
        repository=Repository(external_id="1", full_name="o/r"),
        number=n,
        title="t",
        author=author,
        base_branch="main",
        head_branch="x",
        created_at=NOW,
    )
    data = ChangeRequestMerged(
        change_request=cr, merge_sha="a" * 40, merged_by=merger, merged_at=NOW
    )
    return Envelope.wrap(
        data, source="/sextant/ingest", tenantid=TENANT, workspaceid=WORKSPACE, subject=f"cr:{n}"
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * p / 100) - 1, 0)]


async def analyze(url: str) -> None:
    """Refresh the planner's statistics of identity's tables, as the owner."""
    dsn = plain_dsn(url)
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("developers", "aliases", "alias_keys", "name_tokens", "names_seen"):
            if await conn.fetchval("SELECT to_regclass($1)", f"identity.{table}"):
                await conn.execute(f"ANALYZE identity.{table}")
    finally:
        await conn.close()


def next_event(rng: random.Random, i: int) -> tuple[Envelope, bool]:
    """An event of two known people; one in ten brings a new alias of its author."""
    variant = rng.randrange(1, 1000) if i % 10 == 0 else 0
    author, merger = person(rng.randrange(1000), variant), person(rng.randrange(1000))
    return event(author, merger, 10_000 + i), variant != 0


async def main(events: int, batch: int | None, refresh_statistics: bool) -> int:
    rng = random.Random(3)
    handler_of_activity = HANDLERS[ACTIVITY.name]
    assert isinstance(handler_of_activity, Batched)
    batch = batch or handler_of_activity.max_batch
    async with running_on_embedded_postgres(SPEC) as (_, state, url):
        for n in range(1000):  # warm: every person seen once
            async with state.db.transaction(TENANT) as session:
                await attribution.attribute(session, OUTBOX, event(person(n), person(n), n))
        if refresh_statistics:
            await analyze(url)
        per_event, started_phase = [], time.perf_counter()
        for b in range(events // batch):  # the backlog, a batch per transaction
            envelopes = [next_event(rng, b * batch + i)[0] for i in range(batch)]
            started = time.perf_counter()
            async with state.db.transaction(TENANT) as session:
                claimed = await claim_inbox_many(
                    session, spine.inbox, SPEC.name, [e.id for e in envelopes]
                )
                assert len(claimed) == batch
                await handler_of_activity.handle_many(session, envelopes)
            per_event.append((time.perf_counter() - started) * 1000 / batch)
        backlog_rate = (events // batch) * batch / (time.perf_counter() - started_phase)
        handler, total, new = [], [], []
        for i in range(events):  # one at a time
            envelope, fresh = next_event(rng, events + i)
            new.append(fresh)
            started = time.perf_counter()
            async with state.db.transaction(TENANT) as session:
                inner = time.perf_counter()
                await attribution.attribute(session, OUTBOX, envelope)
                handler.append((time.perf_counter() - inner) * 1000)
            total.append((time.perf_counter() - started) * 1000)
    print(
        f"incremental attribution, {events} events x 2 actors, 1,000 known people, 10 % new aliases"
    )
    print(
        f"backlog, {batch} a transaction: per event (commit included) p50"
        f" {statistics.median(per_event):.2f} ms   p99 {pct(per_event, 99):.2f} ms"
        f"   {backlog_rate:,.0f} events/s"
    )
    print("one at a time:")
    known = [h for h, n in zip(handler, new, strict=True) if not n]
    fresh = [h for h, n in zip(handler, new, strict=True) if n]
    for name, values in (
        ("handler", handler),
        ("with commit", total),
        ("  known", known),
        ("  new alias", fresh),
    ):
        print(f"  {name:12} p50 {statistics.median(values):.2f} ms   p99 {pct(values, 99):.2f} ms")
    verdict = "met" if pct(per_event, 99) <= 1 else "NOT met"
    print(f"target: p99 <= 1 ms per event under a backlog: {verdict}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batch", type=int, help="default: the handler's max_batch")
    parser.add_argument("--no-analyze", action="store_true")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.events, arguments.batch, not arguments.no_analyze)))

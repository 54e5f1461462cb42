"""Rebuild of insights' projections and DeveloperMetrics history from the topic: a year of
synthetic activity for N developers published to the local bus, then insights started on
it; events/s until its inbox holds every event and the DeveloperMetrics worker has
recomputed every day, next to the bus's plain consume rate of the same records (poll and
commit, nothing else) in the same run.

    .venv/bin/python services/insights/bench/bench_rebuild.py [--developers 10]

Each developer works their own repository on every weekday of a year: two pushes of two
commits, every other day a change request opened (merged the next day, its commits listed)
and reviewed by the next developer: about 900 events a developer a year, so 1,000
developers is about 0.9 M events (the issue's size: hours at today's rate, see the README);
``make bench`` runs the default, 10 developers (8,320 events).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from sextant.contracts import Envelope, uuid5, uuid7
from sextant.contracts.events.activity import (
    ChangeRequest,
    ChangeRequestMerged,
    ChangeRequestOpened,
    Commit,
    CommitsPushed,
    ReviewSubmitted,
)
from sextant.contracts.events.common import Actor, Repository, SourceRef
from sextant.contracts.events.platform import ActivityAttributed, Attribution
from sextant.contracts.registry import type_of
from sextant.contracts.topics import ACTIVITY_ATTRIBUTED, entity_key
from sextant.insights.main import SPEC
from sextant.runtime.bus.base import EventBus, OutgoingRecord
from sextant.runtime.db import plain_dsn
from sextant.runtime.embedded_pg import EmbeddedPostgres
from sextant.runtime.outbox import record_for
from sextant.runtime.testing.apps import running_service, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tokens import generate_keypair
from sextant.runtime.wiring import create_bus

TENANT, WORKSPACE, SOURCE = uuid7(), uuid7(), uuid7()
START = date(2025, 1, 6)  # a Monday
CHUNK = 2000


class Year:
    """One developer's year of attributed events, in time order."""

    def __init__(self, index: int, developers: int) -> None:
        self.index = index
        self.developer = uuid5(SOURCE, f"developer/{index}")
        self.reviewer_index = (index + 1) % developers
        self.reviewer = uuid5(SOURCE, f"developer/{self.reviewer_index}")
        self.repository = Repository(external_id=f"r{index}", full_name=f"org/repo-{index}")

    def actor(self, index: int) -> Actor:
        return Actor(kind="github", login=f"dev-{index}")

    def wrap(self, event: BaseModel, subject: str, people: dict[str, tuple[int, UUID]]) -> Envelope:
        data = ActivityAttributed(
            original_id=uuid7(),
            original_type=type_of(type(event)),
            original=event.model_dump(mode="json"),
            attributions=[
                Attribution(
                    path=path,
                    actor=self.actor(i),
                    developer_id=developer,
                    alias_id=uuid5(developer, "alias"),
                )
                for path, (i, developer) in people.items()
            ],
        )
        return Envelope.wrap(
            data,
            source="/sextant/identity",
            tenantid=TENANT,
            workspaceid=WORKSPACE,
            subject=subject,
        )

    def change(self, number: int, opened: datetime) -> ChangeRequest:
        return ChangeRequest(
            source=SourceRef(kind="github", source_id=SOURCE, external_id=f"{self.index}-{number}"),
            repository=self.repository,
            number=number,
            title=f"Change {number}",
            author=self.actor(self.index),
            base_branch="main",
            head_branch=f"feature/{number}",
            created_at=opened,
        )

    def events(self) -> Iterator[Envelope]:
        me = (self.index, self.developer)
        opened: tuple[int, datetime, list[str]] | None = None
        for week in range(52):
            for weekday in range(5):
                day = START + timedelta(weeks=week, days=weekday)
                at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
                number = week * 5 + weekday
                shas = []
                for push in range(2):
                    pushed = [f"{self.index}-{number}-{push}-{c}" for c in range(2)]
                    shas += pushed
                    event = CommitsPushed(
                        source=SourceRef(kind="github", source_id=SOURCE, external_id=pushed[-1]),
                        repository=self.repository,
                        branch=f"feature/{number}",
                        after_sha=pushed[-1],
                        commits=[
                            Commit(
                                sha=sha,
                                title="work",
                                author=self.actor(self.index),
                                authored_at=at + timedelta(hours=push, minutes=c),
                            )
                            for c, sha in enumerate(pushed)
                        ],
                        occurred_at=at + timedelta(hours=push, minutes=5),
                    )
                    people = {f"commits[{c}].author": me for c in range(2)}
                    yield self.wrap(event, f"repo-{self.index}-{number}", people)
                if opened is not None:
                    previous, when, listed = opened
                    merged_at = at + timedelta(hours=6)
                    cr = self.change(previous, when)
                    review = ReviewSubmitted(
                        change_request=cr,
                        review_id=f"review-{self.index}-{previous}",
                        reviewer=self.actor(self.reviewer_index),
                        state="approved",
                        occurred_at=at + timedelta(hours=3),
                    )
                    yield self.wrap(
                        review,
                        f"cr-{self.index}-{previous}",
                        {
                            "change_request.author": me,
                            "reviewer": (self.reviewer_index, self.reviewer),
                        },
                    )
                    merge = ChangeRequestMerged(
                        change_request=cr,
                        merge_sha=f"m-{self.index}-{previous}",
                        commit_shas=listed,
                        merged_at=merged_at,
                    )
                    yield self.wrap(
                        merge, f"cr-{self.index}-{previous}", {"change_request.author": me}
                    )
                    opened = None
                elif weekday < 4:
                    when = at + timedelta(hours=2)
                    opening = ChangeRequestOpened(
                        change_request=self.change(number, when), occurred_at=when
                    )
                    yield self.wrap(
                        opening, f"cr-{self.index}-{number}", {"change_request.author": me}
                    )
                    opened = (number, when, shas)


def records(developers: int) -> Iterator[OutgoingRecord]:
    """The developers' years interleaved event by event (each year has the same shape, so
    the topic runs in time order, as live ingest fills it), not one developer's year after
    another's: then every partition works on the same developer and repository at once."""
    topic = ACTIVITY_ATTRIBUTED.name
    years = [Year(index, developers).events() for index in range(developers)]
    for envelopes in zip(*years, strict=True):
        for envelope in envelopes:
            key = entity_key(TENANT, WORKSPACE, envelope.subject or "")
            yield record_for(envelope, topic, key)


async def publish_all(bus: EventBus, developers: int) -> int:
    published = 0
    chunk: list[OutgoingRecord] = []
    for record in records(developers):
        chunk.append(record)
        if len(chunk) == CHUNK:
            await bus.publish(chunk)
            published += len(chunk)
            chunk = []
    if chunk:
        await bus.publish(chunk)
        published += len(chunk)
    return published


async def plain_consume(bus: EventBus, events: int) -> float:
    """Events/s of a bare consumer group over the same records: poll, commit, nothing else."""
    consumer = bus.consumer(f"plain-{uuid7().hex[:6]}", [ACTIVITY_ATTRIBUTED.name])
    await consumer.start()
    started = time.perf_counter()
    seen = 0
    while seen < events:
        batch = await consumer.poll(500, 0.5)
        seen += sum(len(r) for r in batch.values())
        await consumer.commit({pk: rs[-1].offset + 1 for pk, rs in batch.items() if rs})
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return events / elapsed


async def _waiting(conn: asyncpg.Connection) -> str:
    """The query of the rows the worker has not done yet (the code before the derivation
    queue, run for the baseline with its sources first on PYTHONPATH, has none of it)."""
    queues = ["metrics_queue"]
    if await conn.fetchval("SELECT to_regclass('insights.derivation_queue') IS NOT NULL"):
        queues.append("derivation_queue")
    return "SELECT " + " + ".join(f"(SELECT count(*) FROM insights.{q})" for q in queues)


async def main(developers: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sextant-bench-rebuild-"))
    postgres = EmbeddedPostgres(workdir / "postgres")
    try:
        database_url = postgres.start()
        private_pem, public_pem = generate_keypair()
        settings = service_settings(database_url, InternalKeys(private_pem, public_pem))
        bus = create_bus(settings)
        await bus.start()
        events = await publish_all(bus, developers)
        plain = await plain_consume(bus, events)
        await bus.stop()
        dsn = plain_dsn(database_url)
        started = time.perf_counter()
        async with running_service(SPEC, settings):
            conn = await asyncpg.connect(dsn)
            while await conn.fetchval("SELECT count(*) FROM insights.inbox") < events:
                await asyncio.sleep(0.2)
            projected = time.perf_counter() - started
            # and every repository derived, every day queued recomputed by the worker
            waiting = await _waiting(conn)
            while await conn.fetchval(waiting):
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - started
            days = await conn.fetchval("SELECT count(*) FROM insights.developer_days")
            await conn.close()
    finally:
        postgres.destroy()
    rebuild = events / elapsed
    print(f"insights rebuild, {developers} developers, {events} events, a year (events/s)")
    print(f"  {'plain consume, local bus':34s} {plain:10.0f}   1.00x")
    print(
        f"  {'insights rebuild (with start-up)':34s} {rebuild:10.0f}   {rebuild / plain:.3f}x"
        f"   {elapsed:.0f} s, {days} developer days ({projected:.0f} s to project)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--developers", type=int, default=10, help="1000 for the issue's size")
    args = parser.parse_args()
    asyncio.run(main(args.developers))

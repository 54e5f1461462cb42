"""LISTEN/NOTIFY on real PostgreSQL. Invalidation feeds: a change announced through one is
applied by every listening replica before its block ends; a feed trusts its caches only
while listening, and drops them on every reconnection. Wake-ups: one listener's
connection serves several channels, each waking its own waiter only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest

from sextant.runtime.db import Database, plain_dsn
from sextant.runtime.migrations import _bootstrap
from sextant.runtime.pgnotify import Invalidations, Listener, notify

CHANNEL = "sextant_test_invalidations"


@dataclass
class Replica:
    """What one replica's feed did: the messages it applied, the resets it ran."""

    feed: Invalidations | None = None
    applied: list[str] = field(default_factory=list)
    resets: int = 0

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, "invalidations", app_password="pw")
    owner = database.owner_engine()
    async with owner.begin() as conn:  # the service's own role, as a migration makes it
        await conn.run_sync(_bootstrap, "invalidations", "pw")
    await owner.dispose()
    await database.start()
    yield database
    await database.stop()


async def listening(db: Database, wait: bool = True) -> Replica:
    replica = Replica()
    replica.feed = Invalidations(
        plain_dsn(db.app_url),
        CHANNEL,
        on_message=replica.applied.append,
        on_reset=replica.reset,
        ping_seconds=0.1,
    )
    await replica.feed.start()
    if wait:
        await until(lambda: replica.feed is not None and replica.feed.trusted)
    return replica


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def test_an_announced_change_is_applied_by_every_listener_when_its_block_ends(
    db: Database,
) -> None:
    one, two, three = [await listening(db) for _ in range(3)]
    assert one.feed is not None
    started = time.monotonic()
    async with one.feed.announcing(db, None, wait=3) as change:
        await change.send("key k1 revoked #1")
        assert two.applied == []  # not before the commit
    assert time.monotonic() - started < 1  # every replica acknowledged: no waiting out
    for replica in (one, two, three):
        assert replica.applied[-1] == "key k1 revoked #1"  # no sleep: already applied

    with pytest.raises(RuntimeError):  # a rolled-back change is heard by no one
        async with one.feed.announcing(db, None, wait=3) as change:
            await change.send("key k2 revoked #2")
            raise RuntimeError("the change failed")
    await asyncio.sleep(0.2)
    assert all("key k2 revoked #2" not in r.applied for r in (one, two, three))
    for replica in (one, two, three):
        assert replica.feed is not None
        await replica.feed.stop()


async def test_a_listener_that_never_acknowledges_delays_a_change_by_the_wait_only(
    db: Database,
) -> None:
    one = await listening(db)
    assert one.feed is not None
    mute = await asyncpg.connect(
        plain_dsn(db.app_url), server_settings={"application_name": one.feed.application_name}
    )
    await mute.add_listener(CHANNEL, lambda *_: None)  # hears, never acknowledges
    started = time.monotonic()
    async with one.feed.announcing(db, None, wait=0.5) as change:
        await change.send("tenant t1 deleted #3")
    assert 0.5 <= time.monotonic() - started < 2
    await mute.close()
    await one.feed.stop()


async def test_a_feed_trusts_nothing_while_disconnected_and_resets_on_reconnecting(
    db: Database, database_url: str
) -> None:
    replica = await listening(db)
    feed = replica.feed
    assert feed is not None and replica.resets == 1 and feed.backend_pid is not None
    owner = await asyncpg.connect(plain_dsn(database_url))
    try:
        await owner.execute("SELECT pg_terminate_backend($1)", feed.backend_pid)
        await until(lambda: not feed.trusted, seconds=2)
        # a change while it is away is missed; the reset on reconnecting covers it
        await owner.execute("SELECT pg_notify($1, 'missed while away')", CHANNEL)
        await until(lambda: feed.trusted)
        assert replica.resets == 2 and "missed while away" not in replica.applied
    finally:
        await owner.close()
        await feed.stop()
    assert not feed.trusted


async def test_one_listener_wakes_each_channels_waiter_and_no_other(db: Database) -> None:
    listener = Listener(plain_dsn(db.app_url))
    checks = listener.wakeup("sextant_test_checks")
    await listener.start()
    commits = listener.wakeup("sextant_test_commits")  # a waiter may come after the start
    try:
        async with asyncio.timeout(5):  # each woken once its channel is listened on
            await checks.woken.wait()
            await commits.woken.wait()
        for channel, woken, other in (
            ("sextant_test_checks", checks.woken, commits.woken),
            ("sextant_test_commits", commits.woken, checks.woken),
        ):
            woken.clear()
            other.clear()
            async with db.transaction() as session:
                await notify(session, channel, "queued")
            async with asyncio.timeout(5):
                await woken.wait()
            assert not other.is_set()
    finally:
        await listener.stop()

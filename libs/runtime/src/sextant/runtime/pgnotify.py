"""PostgreSQL LISTEN/NOTIFY: wake-ups, so waiting is not a poll interval, and
invalidations, so a change made through one replica holds on every replica at once.

A :class:`Listener` keeps one connection for any number of channels, each waiter with its
own :class:`Wakeup`, so a process's workers share one rather than hold one apiece. It
reconnects after failures, and a waiter always falls back to a short timeout, so a lost
notification delays work by at most that timeout.

An :class:`Invalidations` feed cannot fall back on a timeout: a lost message would let a
replica believe a revoked key or a deleted source. So it says whether its replica may
trust what it cached (:attr:`Invalidations.trusted`): only while its connection is up and
seen alive lately, and only after everything cached before the connection was made has
been dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from uuid import UUID

import asyncpg
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.runtime.tasks import cancel_and_wait

if TYPE_CHECKING:
    from sextant.runtime.db import Database

log = structlog.get_logger()


class Wakeup:
    """One waiter's wake-ups on ``channel`` (:meth:`Listener.wakeup`): set whenever the
    channel is notified with a payload ``accept`` takes, and once each time the listener
    starts listening on it (after every reconnection too), so the waiter looks again for
    anything notified while nobody listened."""

    def __init__(self, channel: str, accept: Callable[[str], bool] | None = None) -> None:
        self.channel = channel
        self._accept = accept or (lambda _payload: True)
        self.woken = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Return when woken or after ``timeout`` seconds, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: see sextant.runtime.tasks
                await self.woken.wait()
        self.woken.clear()

    def heard(self, payload: str) -> None:
        if self._accept(payload):
            self.woken.set()


class Listener:
    """One connection LISTENing for any number of waiters (:meth:`wakeup`), each woken by
    its own channel only. ``Listener(dsn, channel)`` makes the usual single waiter, waited
    on with :meth:`wait`."""

    def __init__(
        self, dsn: str, channel: str | None = None, accept: Callable[[str], bool] | None = None
    ) -> None:
        self._dsn = dsn
        self._wakeups: list[Wakeup] = []
        self._added = asyncio.Event()  # a waiter came whose channel may not be listened on yet
        self._task: asyncio.Task[None] | None = None
        self._single = None if channel is None else self.wakeup(channel, accept)

    def wakeup(self, channel: str, accept: Callable[[str], bool] | None = None) -> Wakeup:
        """A new waiter on ``channel``, before or after :meth:`start`."""
        wakeup = Wakeup(channel, accept)
        self._wakeups.append(wakeup)
        self._added.set()
        return wakeup

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pgnotify-listener")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def wait(self, timeout: float) -> None:
        """Wait on the channel given at construction (:meth:`Wakeup.wait`)."""
        if self._single is None:
            raise TypeError("a Listener made without a channel is waited on through wakeup()")
        await self._single.wait(timeout)

    def _waiting_on(self, channel: str) -> list[Wakeup]:
        return [wakeup for wakeup in self._wakeups if wakeup.channel == channel]

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for wakeup in self._waiting_on(channel):
            wakeup.heard(payload)

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                await self._serve(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                channels = sorted({wakeup.channel for wakeup in self._wakeups})
                log.debug("listener.reconnecting", channels=channels, error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)

    async def _serve(self, conn: asyncpg.Connection) -> None:
        """LISTEN on every waiter's channel (a new waiter's as it comes) and wake the
        channel's waiters once it is listened on; ping every second."""
        listening: set[str] = set()
        while not conn.is_closed():
            self._added.clear()
            for channel in sorted({wakeup.channel for wakeup in self._wakeups} - listening):
                await conn.add_listener(channel, self._on_notify)
                listening.add(channel)
                for wakeup in self._waiting_on(channel):
                    wakeup.woken.set()  # catch up on anything missed while not listening
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self._added.wait()
            await conn.execute("SELECT 1")


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """NOTIFY ``channel`` from ``session``'s transaction: every listener hears it at commit,
    and never if the transaction rolls back."""
    await session.execute(
        sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload}
    )


class Invalidations:
    """Invalidation messages on ``channel``, applied by every replica before the change
    that sent them is reported done.

    Each message is handed to ``on_message`` as it arrives (in the event loop, before
    anything else runs); the replica then acknowledges it on the same channel
    (``ack <its listening backend's pid> <digest of the message>``). On every
    (re)connection ``on_reset`` runs once the channel is listened to and before
    :attr:`trusted` turns True: whatever was cached while messages could be missed is
    dropped. The connection is pinged every ``ping_seconds``; one not confirmed alive for
    ``stale_after`` seconds (a half-open socket) is not trusted.

    A change is made in :meth:`announcing`: its transaction NOTIFYs (delivered to every
    listener at commit), the replica applies it itself, then waits until every session
    listening on the channel after the commit (``pg_stat_activity``, by application name)
    has acknowledged it. Waiting for its own copy alone is not enough: PostgreSQL hands a
    notification to each listening backend as that backend gets round to it, so another
    replica can hear it a few milliseconds later, and a client can be faster."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        *,
        on_message: Callable[[str], None],
        on_reset: Callable[[], None],
        ping_seconds: float = 0.5,
        stale_after: float = 2.0,
    ) -> None:
        self.channel = channel
        self._dsn = dsn
        self._on_message, self._on_reset = on_message, on_reset
        self._ping, self._stale_after = ping_seconds, stale_after
        self._connected = False
        self._alive_at = 0.0
        self._acks_out: asyncio.Queue[str] = asyncio.Queue()
        self._acked: dict[str, set[int]] = {}  # digest -> listening pids that applied it
        self._acked_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.backend_pid: int | None = None  # the listening session's

    @property
    def application_name(self) -> str:
        """How this channel's listening sessions name themselves to PostgreSQL."""
        return f"sextant:{self.channel}"[:63]

    @property
    def trusted(self) -> bool:
        """True while no message can have been missed since the last reset."""
        return self._connected and time.monotonic() - self._alive_at <= self._stale_after

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"invalidations:{self.channel}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._connected = False

    @asynccontextmanager
    async def announcing(
        self, db: Database, tenant_id: UUID | None, *, wait: float
    ) -> AsyncIterator[Announcement]:
        """One transaction whose invalidations (:meth:`Announcement.send`) hold on every
        replica when this block ends: committed, applied here, and acknowledged by every
        listening replica (at most ``wait`` seconds: one that is that slow is logged)."""
        sent: list[str] = []
        try:
            async with db.transaction(tenant_id) as session:
                announcement = Announcement(self, session, sent)
                yield announcement
            for payload in sent:
                self.apply(payload)
            if sent:
                listening = await self._listening(db)
                for payload in sent:
                    await self._acknowledged(_digest(payload), listening, wait)
        finally:
            for payload in sent:
                self._acked.pop(_digest(payload), None)

    async def _listening(self, db: Database) -> set[int]:
        """The sessions listening on the channel now, in this database (NOTIFY does not
        leave it) and of the same role (the app's: others' application names are hidden).
        The change is committed: a failure here must not report it failed, so it only
        leaves nothing to wait for."""
        try:
            async with db.transaction() as session:
                rows = await session.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE application_name = :n AND datname = current_database()"
                    ),
                    {"n": self.application_name},
                )
                return set(rows.scalars())
        except Exception as exc:
            log.warning("invalidations.listeners_unknown", channel=self.channel, error=str(exc))
            return set()

    async def _acknowledged(self, digest: str, listening: set[int], wait: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                while not listening <= self._acked[digest]:
                    changed = self._acked_changed
                    await changed.wait()
        missing = listening - self._acked[digest]
        if missing:
            log.warning("invalidations.unacknowledged", channel=self.channel, pids=sorted(missing))

    def apply(self, payload: str) -> None:
        """Act on ``payload`` here and now."""
        try:
            self._on_message(payload)
        except Exception as exc:  # a bad message must not stop the feed; trust none
            log.error("invalidations.unreadable", channel=self.channel, error=str(exc))
            self._on_reset()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        if kind == "ack":
            pid, _, digest = rest.partition(" ")
            if digest in self._acked and pid.isdigit():
                self._acked[digest].add(int(pid))
                fired, self._acked_changed = self._acked_changed, asyncio.Event()
                fired.set()
            return
        self.apply(payload)
        self._acks_out.put_nowait(f"ack {self.backend_pid} {_digest(payload)}")

    def _lost(self, _conn: object) -> None:
        self._connected = False

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=5,
                    server_settings={"application_name": self.application_name},
                )
                conn.add_termination_listener(self._lost)
                self.backend_pid = conn.get_server_pid()
                self._acks_out = asyncio.Queue()  # acks of an old session: not this one's
                await conn.add_listener(self.channel, self._on_notify)
                self._on_reset()
                self._alive_at, self._connected = time.monotonic(), True
                log.info("invalidations.listening", channel=self.channel)
                await self._serve(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("invalidations.reconnecting", channel=self.channel, error=str(exc))
            finally:
                self._connected = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            await asyncio.sleep(0.2)

    async def _serve(self, conn: asyncpg.Connection) -> None:
        """Send acknowledgements as they come, else a ping every ``ping_seconds``."""
        while not conn.is_closed():
            ack: str | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping):
                    ack = await self._acks_out.get()
            async with asyncio.timeout(self._stale_after):
                if ack is None:
                    await conn.execute("SELECT 1")
                else:
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, ack)
            self._alive_at = time.monotonic()


def _digest(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class Announcement:
    """The invalidations one transaction sends (see :meth:`Invalidations.announcing`)."""

    def __init__(self, feed: Invalidations, session: AsyncSession, sent: list[str]) -> None:
        self.feed, self.session, self._sent = feed, session, sent

    async def send(self, payload: str) -> None:
        """NOTIFY ``payload`` at this transaction's commit; make it unique (a nonce), so
        its acknowledgements are this change's own."""
        self._sent.append(payload)
        self.feed._acked.setdefault(_digest(payload), set())  # acks may beat the commit's return
        await notify(self.session, self.feed.channel, payload)

"""Wake-ups from PostgreSQL LISTEN/NOTIFY, so waiting is not a poll interval.

A listener keeps one connection, reconnects after failures and always falls back to a
short timeout, so a lost notification delays work by at most that timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import structlog

from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()


class Listener:
    """Sets an :class:`asyncio.Event` whenever ``channel`` is notified (optionally filtered)."""

    def __init__(self, dsn: str, channel: str, accept: Callable[[str], bool] | None = None) -> None:
        self._dsn = dsn
        self._channel = channel
        self._accept = accept or (lambda _payload: True)
        self.woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen:{self._channel}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def wait(self, timeout: float) -> None:
        """Return when notified or after ``timeout`` seconds, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: see sextant.runtime.tasks
                await self.woken.wait()
        self.woken.clear()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._accept(payload):
            self.woken.set()

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                await conn.add_listener(self._channel, self._on_notify)
                self.woken.set()  # catch up on anything missed while disconnected
                while not conn.is_closed():
                    await asyncio.sleep(1)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("listener.reconnecting", channel=self._channel, error=str(exc))
                await asyncio.sleep(0.5)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)


def plain_dsn(sqlalchemy_url: object) -> str:
    """A libpq DSN for asyncpg from a SQLAlchemy URL."""
    from sqlalchemy.engine import URL

    assert isinstance(sqlalchemy_url, URL)
    return sqlalchemy_url.set(drivername="postgresql").render_as_string(hide_password=False)

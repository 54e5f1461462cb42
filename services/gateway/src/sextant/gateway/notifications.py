"""Notifications as they arrive: the consumer stores each one and NOTIFYs
``sextant_notifications``; every gateway replica LISTENs, so a client connected to any
replica hears of it, and reads it from the table (never from the message). The open
streams are kept here too, each with the credential it was opened with."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sextant.gateway.authn import Principal
from sextant.runtime.pgnotify import Listener
from sextant.runtime.tasks import cancel_and_wait

CHANNEL = "sextant_notifications"


class NotificationHub:
    """Wakes every waiting stream whenever any notification is stored."""

    def __init__(self, dsn: str) -> None:
        self._listener = Listener(dsn, CHANNEL)
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._listener.start()
        self._task = asyncio.create_task(self._relay(), name="notifications:hub")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self._listener.stop()

    def changed(self) -> asyncio.Event:
        """An event set at the next notification: take it *before* reading, then wait."""
        return self._changed

    async def _relay(self) -> None:
        while True:
            await self._listener.wait(timeout=5.0)
            fired, self._changed = self._changed, asyncio.Event()
            fired.set()


@dataclass(eq=False)
class OpenStream:
    """One open notifications WebSocket and the credential it was opened with."""

    caller: Principal
    ended: asyncio.Future[str]  # set (to the reason) when the credential no longer holds


class Streams:
    """The open streams of this replica, so a revocation or a tenant's deletion can end
    the ones that rest on it (:mod:`sextant.gateway.revocation`)."""

    def __init__(self) -> None:
        self._open: set[OpenStream] = set()
        self.epoch = 0  # advanced by every ending: see :meth:`open`

    def open(self, caller: Principal) -> OpenStream:
        stream = OpenStream(caller, asyncio.get_running_loop().create_future())
        self._open.add(stream)
        return stream

    def close(self, stream: OpenStream) -> None:
        self._open.discard(stream)

    def end_where(self, ends: Callable[[Principal], bool], reason: str) -> int:
        """End every stream whose caller ``ends`` matches; how many."""
        self.epoch += 1
        ended = 0
        for stream in list(self._open):
            if ends(stream.caller) and not stream.ended.done():
                stream.ended.set_result(reason)
                ended += 1
        return ended

    def callers(self) -> list[OpenStream]:
        return [s for s in self._open if not s.ended.done()]

"""Notifications as they arrive: the consumer stores each one and NOTIFYs
``sextant_notifications``; every gateway replica LISTENs, so a client connected to any
replica hears of it, and reads it from the table (never from the message)."""

from __future__ import annotations

import asyncio

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

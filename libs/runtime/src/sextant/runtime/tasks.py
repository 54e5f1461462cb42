"""Stopping background tasks reliably.

On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives as its inner
await completes (CPython gh-86296): a task looping over such waits then survives
``task.cancel()``, and ``await task`` hangs a service's shutdown for good. It was seen
doing exactly that in the test suite. Waits use ``asyncio.timeout`` instead, and every
stop goes through :func:`cancel_and_wait`, which repeats the cancel until it lands.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

log = structlog.get_logger()


async def cancel_and_wait(task: asyncio.Task[object] | None, *, grace: float = 10.0) -> None:
    """Cancel ``task`` and wait for it to end, cancelling again if one is swallowed."""
    if task is None or task.done():
        return
    deadline = asyncio.get_running_loop().time() + grace
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)
        if asyncio.get_running_loop().time() > deadline:
            log.error("task.would_not_stop", task=task.get_name())
            return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()

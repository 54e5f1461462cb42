"""A task that swallows a cancellation still stops (the shutdown hang of gh-86296)."""

import asyncio
import contextlib

from sextant.runtime.tasks import cancel_and_wait


async def test_a_task_that_swallows_one_cancellation_is_stopped_anyway() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise  # the second cancel lands

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await cancel_and_wait(task, grace=5)
    assert task.done() and swallowed == 2


async def test_a_task_that_never_stops_is_given_up_on_after_the_grace() -> None:
    stop = asyncio.Event()

    async def immortal() -> None:
        while not stop.is_set():  # deaf to cancellation until the test lets it end
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)

    task = asyncio.create_task(immortal())
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    await cancel_and_wait(task, grace=0.5)
    assert asyncio.get_running_loop().time() - started < 2 and not task.done()
    stop.set()
    await asyncio.wait({task}, timeout=1)
    assert task.done()

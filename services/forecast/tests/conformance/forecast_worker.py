"""Forecast's real service (its spec, handlers, migrations and consumer), in a process of
its own so a test can SIGKILL it at any point.

    python forecast_worker.py   (FORECAST_WORKER_SETTINGS: the runtime settings, as JSON)

Says ``CONSUMING`` on stdout once started (its logs go to stderr); stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import structlog

from sextant.forecast.main import SPEC
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.testing.apps import running_service


async def main() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    settings = RuntimeSettings.model_validate(json.loads(os.environ["FORECAST_WORKER_SETTINGS"]))
    async with running_service(SPEC, settings):
        print("CONSUMING", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())

"""The same suite runs on both transports: ``bus_kind`` is ``local`` or ``kafka``."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sextant.runtime.bus.base import EventBus
from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.testing import busworker
from sextant.runtime.testing.plugin import unavailable
from sextant.runtime.testing.servers import MotoS3, TansuBroker

PARTITIONS = 4


@dataclass
class BusUnderTest:
    """One transport wired to one database, with ways to start worker processes."""

    kind: str
    database_url: str
    bootstrap: str | None
    batched: bool = False  # the consumers' handler is Batched
    topic: str = field(default_factory=lambda: f"conformance.{secrets.token_hex(4)}")
    group: str = field(default_factory=lambda: f"group-{secrets.token_hex(4)}")
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def bus(self) -> EventBus:
        return busworker.make_bus(
            self.kind, database_url=self.database_url, bootstrap=self.bootstrap
        )

    async def prepare(self) -> None:
        await busworker.prepare(self.database_url)
        if self.kind == "kafka":
            assert self.bootstrap
            await KafkaBus(self.bootstrap).ensure_topics(
                [self.topic, self.topic + ".dlq"], PARTITIONS
            )

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CONFORMANCE_DATABASE_URL=self.database_url,
            CONFORMANCE_TRANSPORT=self.kind,
            CONFORMANCE_TOPIC=self.topic,
            CONFORMANCE_GROUP=self.group,
            CONFORMANCE_BOOTSTRAP=self.bootstrap or "",
            CONFORMANCE_BATCHED="1" if self.batched else "0",
        )
        env.update(extra)
        return env

    def start_worker(self, mode: str, log_dir: Path, **extra: str) -> subprocess.Popen[str]:
        log = (log_dir / f"{mode}-{secrets.token_hex(3)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "sextant.runtime.testing.busworker", mode],
            env=self.worker_env(**extra),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        self.started.append(process)
        return process

    def stop_workers(self) -> None:
        """Kill every worker still running: a test that failed or timed out midway must
        not leave a process consuming (and loading the box) for the rest of the run."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != expected:
        raise AssertionError(f"worker said {line!r}, expected {expected!r} (exit {process.poll()})")


@pytest.fixture(params=["local", "kafka"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["one-by-one", "batched"])
def handling(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bus_under_test(
    bus_kind: str, handling: str, database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[BusUnderTest]:
    bootstrap = request.getfixturevalue("kafka_bootstrap") if bus_kind == "kafka" else None
    under_test = BusUnderTest(bus_kind, database_url, bootstrap, batched=handling == "batched")
    await under_test.prepare()
    try:
        yield under_test
    finally:
        under_test.stop_workers()


@pytest.fixture
def restartable_broker(s3_endpoint: str, tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own, so restarting it disturbs no other test."""
    bucket = f"tansu-{secrets.token_hex(4)}"
    try:
        MotoS3.create_bucket_at(s3_endpoint, bucket)
        broker = TansuBroker(s3_endpoint, bucket, tmp_path)
        broker.start()
    except Exception as exc:
        unavailable("tansu broker", exc)
    yield broker
    broker.stop()

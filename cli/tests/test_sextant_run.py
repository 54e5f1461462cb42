"""`sextant run` as a person runs it: a real process, a real port, Ctrl-C, then again."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from sextant.cli.services import SERVICE_NAMES
from sextant.runtime.embedded_pg import free_port

SEXTANT = [sys.executable, "-m", "sextant.cli"]


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    return subprocess.Popen(
        [*SEXTANT, "run", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_until_all_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sextant run exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5)
            if response.status_code == 200:
                status: dict[str, Any] = response.json()
                return status
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"not ready in time:\n{log.read_text()[-3000:]}")


def interrupt_and_time(process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("sextant run did not stop within 20 s of Ctrl-C")
    return time.monotonic() - started


async def owner_connection(data_dir: Path) -> asyncpg.Connection:
    port = (data_dir / "postgres" / "port").read_text()
    return await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")


def test_run_serves_every_service_stops_on_ctrl_c_and_keeps_data(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "run.log", free_port()

    first = start(data_dir, port, log)
    status = wait_until_all_ready(first, port, log)
    assert sorted(status["services"]) == sorted(SERVICE_NAMES)
    assert all(s["ready"] for s in status["services"].values())

    async def leave_a_mark() -> None:
        conn = await owner_connection(data_dir)
        await conn.execute(
            "CREATE TABLE public.marker (note text); INSERT INTO public.marker VALUES ('kept')"
        )
        await conn.close()

    asyncio.run(leave_a_mark())
    stop_seconds = interrupt_and_time(first)
    assert first.returncode == 0, log.read_text()[-2000:]
    assert stop_seconds < 15

    second = start(data_dir, port, log)
    wait_until_all_ready(second, port, log)

    async def read_mark() -> str:
        conn = await owner_connection(data_dir)
        note: str = await conn.fetchval("SELECT note FROM public.marker")
        await conn.close()
        return note

    assert asyncio.run(read_mark()) == "kept"
    interrupt_and_time(second)
    assert second.returncode == 0, log.read_text()[-3000:]


def test_sigterm_during_start_up_leaves_no_postgres_behind(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "run.log"
    postmaster = data_dir / "postgres" / "pgdata" / "postmaster.pid"
    process = start(data_dir, free_port(), log)
    deadline = time.monotonic() + 60
    while not postmaster.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert postmaster.exists(), log.read_text()[-2000:]
    process.send_signal(signal.SIGTERM)  # PostgreSQL is up; the services are migrating
    process.wait(15)
    assert process.returncode == 0, log.read_text()[-2000:]
    assert "stopped" in log.read_text()
    assert not postmaster.exists(), "PostgreSQL was left running"


def test_services_lists_every_service_with_its_topics() -> None:
    output = subprocess.run(
        [*SEXTANT, "services"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for name in SERVICE_NAMES:
        assert name in output
    assert "sextant.activity.attributed" in output

"""`sextant run` as a person runs it: a real process, a real port, Ctrl-C, then again; and
as it is abused: its PostgreSQL killed, the run itself killed, a second run on its folder."""

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from sextant.cli.services import SERVICE_NAMES
from sextant.gateway.authn import ensure_local_issuer
from sextant.runtime.embedded_pg import free_port, process_alive

SEXTANT = [sys.executable, "-m", "sextant.cli"]
PUSH = {
    "ref": "refs/heads/main",
    "before": "0" * 40,
    "after": "a" * 40,
    "commits": [],
    "repository": {"id": 1, "full_name": "octo-org/octo-repo"},
    "pusher": {"name": "octocat"},
    "head_commit": {"timestamp": "2026-03-02T10:00:00Z"},
}


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    return subprocess.Popen(
        [*SEXTANT, "run", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_until_all_ready(
    process: subprocess.Popen[bytes], port: int, log: Path, within: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + within
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
    pytest.fail(f"not ready within {within:.0f} s:\n{log.read_text()[-3000:]}")


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
    assert stop_seconds < 5

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


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "pgdata" / "postmaster.pid").read_text().split()[0])


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def admin_token(log: Path) -> str:
    return log.read_text().rpartition("SEXTANT_TOKEN=")[2].split()[0]


def create_tenant(port: int, token: str, name: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/tenants",
        json={"name": name},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )


def a_signed_webhook_is_accepted(port: int, log: Path, data_dir: Path) -> None:
    """A new tenant, workspace and source through the public API, then a delivery to the
    source: writes through the gateway's and ingest's pools, and ingest's webhook writer."""
    tenant = create_tenant(port, admin_token(log), "after-the-crash")
    assert tenant.status_code == 201, tenant.text
    token = ensure_local_issuer(data_dir).mint(
        subject="admin@acme",
        role="tenant_admin",
        tenant_id=UUID(tenant.json()["id"]),
        ttl_seconds=600,
    )
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    ) as api:
        workspace = api.post("/v1/workspaces", json={"name": "ws"})
        assert workspace.status_code == 201, workspace.text
        source = api.post(
            f"/v1/workspaces/{workspace.json()['id']}/sources",
            json={"kind": "github", "name": "gh"},
        )
        assert source.status_code == 201, source.text
    body = json.dumps(PUSH).encode()
    digest = hmac.new(source.json()["secret"].encode(), body, hashlib.sha256).hexdigest()
    delivered = httpx.post(
        f"http://127.0.0.1:{port}/v1/hooks/{source.json()['id']}",
        content=body,
        headers={
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": "after-the-crash",
            "x-hub-signature-256": f"sha256={digest}",
        },
        timeout=10,
    )
    assert delivered.status_code == 202, delivered.text


async def consumed_everything(data_dir: Path) -> bool:
    """Whether the gateway's consumer group has read every record of the topic a new
    tenant is announced on (so the bus and its LISTEN wake-ups work)."""
    conn = await owner_connection(data_dir)
    try:
        behind: int = await conn.fetchval(
            "SELECT count(*) FROM sextant_bus.partitions p LEFT JOIN sextant_bus.group_offsets g"
            " ON g.group_id = 'gateway' AND (g.topic, g.partition) = (p.topic, p.partition)"
            " WHERE p.topic = 'sextant.config' AND coalesce(g.next_offset, 0) < p.next_offset"
        )
        published: int = await conn.fetchval(
            "SELECT count(*) FROM sextant_bus.partitions WHERE topic = 'sextant.config'"
        )
    finally:
        await conn.close()
    return published > 0 and behind == 0


def test_a_killed_postgres_is_restarted_and_ctrl_c_still_stops_everything_fast(
    tmp_path: Path,
) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "run.log", free_port()
    run = start(data_dir, port, log)
    wait_until_all_ready(run, port, log)
    killed = postmaster_pid(data_dir)
    pg_port = (data_dir / "postgres" / "port").read_text()

    os.kill(killed, signal.SIGKILL)
    wait_until_all_ready(run, port, log, within=45)

    restarted = postmaster_pid(data_dir)
    assert restarted != killed
    assert parent_of(restarted) == run.pid  # started by the run, not by anyone else
    assert (data_dir / "postgres" / "port").read_text() == pg_port
    assert "embedded_postgres.restarted" in log.read_text()
    a_signed_webhook_is_accepted(port, log, data_dir)
    deadline = time.monotonic() + 20
    while not asyncio.run(consumed_everything(data_dir)):
        assert time.monotonic() < deadline, "the bus did not deliver after the restart"
        time.sleep(0.5)

    os.kill(restarted, signal.SIGKILL)  # and Ctrl-C while it is down or coming back
    time.sleep(0.3)
    assert interrupt_and_time(run) < 5
    assert run.returncode == 0, log.read_text()[-3000:]
    postmaster = data_dir / "postgres" / "pgdata" / "postmaster.pid"
    assert not postmaster.exists() or not process_alive(postmaster_pid(data_dir))


def test_a_killed_run_leaves_no_postgres_for_the_next_to_share(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "run.log", free_port()
    first = start(data_dir, port, log)
    wait_until_all_ready(first, port, log)

    async def leave_a_mark() -> None:
        conn = await owner_connection(data_dir)
        await conn.execute(
            "CREATE TABLE public.marker (note text); INSERT INTO public.marker VALUES ('kept')"
        )
        await conn.close()

    asyncio.run(leave_a_mark())
    orphan = postmaster_pid(data_dir)
    first.kill()  # SIGKILL: the run's process only; PostgreSQL is in a session of its own
    first.wait(10)
    assert process_alive(orphan)

    second = start(data_dir, port, log)
    wait_until_all_ready(second, port, log)
    assert not process_alive(orphan), "the orphan of the killed run is still running"
    assert parent_of(postmaster_pid(data_dir)) == second.pid

    async def read_mark() -> str:
        conn = await owner_connection(data_dir)
        note: str = await conn.fetchval("SELECT note FROM public.marker")
        await conn.close()
        return note

    assert asyncio.run(read_mark()) == "kept"
    assert interrupt_and_time(second) < 5
    assert second.returncode == 0, log.read_text()[-3000:]
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()


def test_a_second_run_on_a_used_data_folder_or_port_is_refused_and_the_first_untouched(
    tmp_path: Path,
) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "run.log", free_port()
    first = start(data_dir, port, log)
    wait_until_all_ready(first, port, log)
    serving = postmaster_pid(data_dir)

    elsewhere = tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    attempts = [  # at once: each spends most of its time importing the platform
        subprocess.Popen(
            [*SEXTANT, "run", "--port", str(at), "--data-dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for folder, at in ((data_dir, port), (data_dir, free_port()), (elsewhere, port))
    ]
    messages = []
    for attempt in attempts:
        _, stderr = attempt.communicate(timeout=60)
        assert attempt.returncode == 1, stderr.decode()[-2000:]
        messages.append(" ".join(stderr.decode().split()))
    same_port, other_port, same_port_elsewhere = messages
    for message in (same_port, other_port):
        assert f"the data folder {data_dir} is in use by another `sextant run`" in message
        assert f"(pid {first.pid}, serving http://127.0.0.1:{port})" in message
    assert f"cannot listen on 127.0.0.1:{port}" in same_port_elsewhere
    assert not (elsewhere / "postgres").exists()  # refused before PostgreSQL started

    assert postmaster_pid(data_dir) == serving
    assert httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=5).status_code == 200
    assert create_tenant(port, admin_token(log), "still-serving").status_code == 201
    assert interrupt_and_time(first) < 5
    assert first.returncode == 0, log.read_text()[-3000:]

"""Webhook accept rate and latency: deliveries/s on one core with the durable commit, and
p50/p99 accept latency at 70 % of that rate, next to an empty FastAPI endpoint measured
by the same client in the same run.

    .venv/bin/python services/ingest/bench/bench_webhooks.py [--seconds 8] [--connections 64]
        [--repeat 3]

Both servers run side by side and are measured in turn, ``--repeat`` times: this host's
speed drifts by a third within minutes, so one run decides nothing; the medians (and the
ratio to the empty endpoint, which drifts with it) are the figures.

The server under test is ``sextant serve ingest`` (uvicorn, one worker) pinned to core 0
with ``taskset`` when the machine has more than one core; PostgreSQL (synchronous_commit
on, fsync on) and the load generator are kept off that core and share the rest. Each
delivery is a ~25 KB GitHub ``pull_request`` body of its own pull request number (so its
event is new and the in-process outbox relay publishes it, as in production), signed,
with its own delivery id: verified, stored raw, normalized and staged in the outbox in
one committed transaction before the 202.

There are 64 senders by default: unlike the empty endpoint, each delivery waits for its
commit (~10-15 ms under load), so by Little's law some 30 must be in flight only to keep
2,000/s going; with 32 the server's core idled between commits, which understates what
one core accepts. The latency phase sends at a fixed rate, whatever the connection count.

The load generator is a minimal keep-alive HTTP/1.1 client on raw asyncio streams, so it
is not the bottleneck (the empty endpoint's rate shows its ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

TARGET_RATE, TARGET_P99_MS = 2000, 50
EMPTY_APP = """
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/v1/hooks/{source_id}", status_code=202)
async def hook(source_id: str, request: Request) -> dict:
    await request.body()
    return {"accepted": True}
"""


CORPUS_PULL_REQUEST = (
    Path(__file__).resolve().parents[3].parent
    / "shared/corpora/github-webhooks/pull_request/opened.json"
)


def pull_request_body(size: int = 25_000) -> bytes:
    """A real pull_request 'opened' delivery from ../shared/corpora when it is there (28 KB);
    else one built here, padded with seeded random prose to about ``size`` so it
    compresses like real payloads do (about 7x), not like repeated text."""
    if CORPUS_PULL_REQUEST.exists():
        return CORPUS_PULL_REQUEST.read_bytes()
    user = {
        "id": 583231,
        "login": "octocat",
        "type": "User",
        "url": "https://api.github.com/users/octocat",
    }
    repo = {
        "id": 1296269,
        "full_name": "octo-org/octo-repo",
        "html_url": "https://github.com/octo-org/octo-repo",
    }
    pr = {
        "id": 1042,
        "number": 42,
        "title": "Make the widget faster",
        "user": user,
        "state": "open",
        "html_url": "https://github.com/octo-org/octo-repo/pull/42",
        "draft": False,
        "labels": [],
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-02T09:00:00Z",
        "head": {"ref": "faster", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": repo},
        "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b", "repo": repo},
    }
    body = {
        "action": "opened",
        "number": 42,
        "pull_request": pr,
        "repository": repo,
        "sender": user,
    }
    rng = random.Random(7)
    words = [
        "widget",
        "layout",
        "frame",
        "cache",
        "render",
        "slow",
        "fix",
        "the",
        "a",
        "of",
        "api",
        "https://api.github.com/repos/octo-org/octo-repo/",
        "events",
        "2026-03-02T09:00:00Z",
    ]
    prose: list[str] = []
    while len(json.dumps(body)) + sum(len(w) + 1 for w in prose) < size:
        prose.append(rng.choice(words) + str(rng.randrange(10_000)))
    pr["body"] = " ".join(prose)
    return json.dumps(body).encode()


class RawClient:
    """Keep-alive HTTP/1.1 connections on asyncio streams: write a request, read a reply."""

    def __init__(self, port: int, connections: int) -> None:
        self.port, self.connections = port, connections
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.connections):
            self.pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        reader, writer = await self.pool.get()
        try:
            head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            return int(status_line.split()[1])
        finally:
            self.pool.put_nowait((reader, writer))


async def closed_loop(client: RawClient, request: callable, seconds: float) -> tuple[float, int]:  # type: ignore[valid-type]
    """Max rate: every connection sends back to back for ``seconds``; returns (rate, errors)."""
    done, errors = 0, 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            status = await request()
            done += 1
            errors += status not in (200, 202)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(client.connections)))
    return done / (time.perf_counter() - started), errors


async def open_loop(request: callable, rate: float, seconds: float) -> list[float]:  # type: ignore[valid-type]
    """Send at a fixed ``rate`` regardless of replies; each latency (ms) counts from when
    the request was due, so time spent queued behind a slow server is included."""
    latencies: list[float] = []
    interval, total = 1 / rate, int(rate * seconds)
    started = time.perf_counter()
    in_flight: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        await request()
        latencies.append((time.perf_counter() - due) * 1000)

    for i in range(total):
        due = started + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return latencies


SERVER_CORE = 0


def keep_off_the_server_core() -> None:
    """Move this process — the load generator, and PostgreSQL, which it starts and which
    inherits the mask — off the server's core, so the server's figures are its own and
    not shared with the database's backends."""
    others = set(range(os.cpu_count() or 1)) - {SERVER_CORE}
    if others and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, others)


def pinned(command: list[str]) -> list[str]:
    return (
        ["taskset", "-c", str(SERVER_CORE), *command]
        if shutil.which("taskset") and (os.cpu_count() or 1) > 1
        else command
    )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(pgdata: Path) -> float:
    """CPU time so far of the postmaster and its children (backends, WAL writer,
    checkpointer): what the database spends, to tell a server-bound run from a
    database-bound one."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue  # a backend that ended meanwhile
    return total


async def measure(
    server_pid: int,
    port: int,
    path: str,
    request_for: callable,  # type: ignore[valid-type]
    seconds: float,
    connections: int,
    pgdata: Path | None = None,
) -> dict[str, float]:
    client = RawClient(port, connections)
    await client.open()
    counter = iter(range(10**9))

    async def request() -> int:
        return await client.post(path, *request_for(next(counter)))

    await closed_loop(client, request, 1.0)  # warm up
    cpu_before, wall_before = cpu_seconds(server_pid), time.perf_counter()
    client_before = time.process_time()
    database_before = postgres_cpu_seconds(pgdata) if pgdata else 0.0
    rate, errors = await closed_loop(client, request, seconds)
    wall = time.perf_counter() - wall_before
    busy = (cpu_seconds(server_pid) - cpu_before) / wall
    client_busy = (time.process_time() - client_before) / wall
    database_busy = (postgres_cpu_seconds(pgdata) - database_before) / wall if pgdata else 0.0
    latencies = await open_loop(request, rate * 0.7, seconds)
    await client.close()
    latencies.sort()
    return {
        "rate": rate,
        "errors": errors,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "busy": busy,
        # CPU per request: what a change to the code moves, even while the box's speed (and
        # so the rate) drifts; divided by the empty endpoint's, it is the cost ratio again
        "cpu_ms": busy * 1000 / rate,
        "client": client_busy,
        "database": database_busy,
    }


def start_server(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server with its stderr in ``log``: a file, not a pipe nobody drains, which
    a server logging errors at full rate fills until it blocks and the bench hangs."""
    with log.open("wb") as stderr:
        return subprocess.Popen(pinned(command), env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def sample_with_py_spy(pid: int, seconds: float, output: str) -> None:
    """Record the server with py-spy (collapsed stacks) while the max-rate phase runs."""
    subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--nonblocking",
            "--duration",
            str(int(seconds)),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            output,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(seconds: float, connections: int, repeat: int, profile: str | None) -> int:
    keep_off_the_server_core()
    body = pull_request_body()
    with tempfile.TemporaryDirectory(prefix="sextant-bench-") as tmp:
        work = Path(tmp)
        postgres = EmbeddedPostgres(work / "pg")
        database_url = postgres.start()
        servers: list[subprocess.Popen[bytes]] = []
        try:
            private_pem, public_pem = generate_keypair()
            env = os.environ | {
                "DATABASE_URL": database_url,
                "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": public_pem,
                "SEXTANT_BUS": "local",
                "SEXTANT_DATA_DIR": str(work),
                "SEXTANT_LOG_LEVEL": "WARNING",
                "SEXTANT_DB_POOL_SIZE": str(connections),
                "SEXTANT_INGEST_MAX_IN_FLIGHT": str(connections * 4),
            }
            ingest_port, empty_port = free_port(), free_port()
            serve = ["-m", "sextant.cli", "serve", "ingest", "--host", "127.0.0.1"]
            server = start_server(
                [sys.executable, *serve, "--port", str(ingest_port)], work / "ingest.log", env
            )
            servers.append(server)
            (work / "empty_app.py").write_text(EMPTY_APP)
            empty_server = start_server(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "empty_app:app",
                    "--app-dir",
                    str(work),
                    "--port",
                    str(empty_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                work / "empty.log",
            )
            servers.append(empty_server)
            wait_ready(f"http://127.0.0.1:{ingest_port}/readyz", server, work / "ingest.log")
            wait_ready(f"http://127.0.0.1:{empty_port}/docs", empty_server, work / "empty.log")
            signer = InternalTokenSigner(load_private_key(private_pem))
            token = signer.mint(
                service="ingest",
                subject="bench",
                role="tenant_admin",
                tenant_id=uuid.uuid4(),
            )
            source = httpx.post(
                f"http://127.0.0.1:{ingest_port}/v1/workspaces/{uuid.uuid4()}/sources",
                json={"kind": "github", "name": "bench"},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            number = re.search(rb'"number": ?\d+', body)
            assert number is not None, "the pull_request body has no number"
            key = source["secret"].encode()
            numbers = iter(range(10**9))  # across repeats: every delivery is new

            def signed(_: int) -> tuple[dict[str, str], bytes]:
                """A pull request number of its own: a new event, not a copy the outbox drops."""
                n = next(numbers)
                numbered = body.replace(number.group(0), b'"number": %d' % n)
                return {
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": f"bench-{n}",
                    "X-Hub-Signature-256": "sha256="
                    + hmac.new(key, numbered, hashlib.sha256).hexdigest(),
                }, numbered

            ingest_runs, empty_runs = [], []
            for run in range(repeat):  # interleaved, so a drift of the host's speed hits both
                if profile and run == 0:
                    sample_with_py_spy(server.pid, seconds, profile)
                ingest_runs.append(
                    await measure(
                        server.pid,
                        ingest_port,
                        f"/v1/hooks/{source['id']}",
                        signed,
                        seconds,
                        connections,
                        postgres.pgdata,
                    )
                )
                empty_runs.append(
                    await measure(
                        empty_server.pid,
                        empty_port,
                        "/v1/hooks/x",
                        lambda n: ({"Content-Type": "application/json"}, body),
                        seconds,
                        connections,
                    )
                )
        finally:
            for process in servers:
                stop(process)
            postgres.stop()

    report(body, seconds, connections, ingest_runs, empty_runs)
    return 0


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def report(
    body: bytes,
    seconds: float,
    connections: int,
    ingest_runs: list[dict[str, float]],
    empty_runs: list[dict[str, float]],
) -> None:
    print(
        f"webhook accept, {len(body) / 1000:.1f} KB GitHub pull_request ({'real, from the corpora' if CORPUS_PULL_REQUEST.exists() else 'built here'}), server on one core, {connections} connections, {seconds:.0f} s per phase, {len(ingest_runs)} interleaved run(s)"
    )
    print(
        f"{'':28}{'deliveries/s':>14}{'p50 ms @70%':>14}{'p99 ms @70%':>14}{'server CPU':>12}"
        f"{'CPU ms each':>13}{'ratio':>8}"
    )
    rows = []
    if len(ingest_runs) > 1:
        rows += [
            (f"run {n + 1}: {name}", figures, ingest["rate"] / empty["rate"])
            for n, (ingest, empty) in enumerate(zip(ingest_runs, empty_runs, strict=True))
            for name, figures in (("ingest", ingest), ("empty", empty))
        ]
    ingest, empty = median_run(ingest_runs), median_run(empty_runs)
    ratio = statistics.median(
        i["rate"] / e["rate"] for i, e in zip(ingest_runs, empty_runs, strict=True)
    )
    label = "median: " if len(ingest_runs) > 1 else ""
    rows += [
        (f"{label}ingest (durable commit)", ingest, ratio),
        (f"{label}empty FastAPI endpoint", empty, ratio),
    ]
    for name, figures, run_ratio in rows:
        print(
            f"{name:28}{figures['rate']:>14,.0f}{figures['p50']:>14.1f}{figures['p99']:>14.1f}"
            f"{figures['busy']:>12.0%}{figures['cpu_ms']:>13.3f}{run_ratio:>7.2f}x"
        )
    print(f"non-2xx during ingest's max-rate phases: {sum(r['errors'] for r in ingest_runs):.0f}")
    print(
        f"during ingest's max-rate phases, off the server's core: PostgreSQL {ingest['database']:.0%}"
        f" and the load generator {ingest['client']:.0%} of a core, on {(os.cpu_count() or 1) - 1}"
        " core(s)"
    )
    met = ingest["rate"] >= TARGET_RATE and ingest["p99"] <= TARGET_P99_MS
    print(
        f"target >= {TARGET_RATE}/s and p99 <= {TARGET_P99_MS} ms"
        f"{' (medians)' if len(ingest_runs) > 1 else ''}: {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8)
    # 64: a delivery waits ~10-15 ms for its group commit, so at 2,000/s some 30 are in
    # flight before the core has queued work; with 32 senders it idled 7-13 % of the time.
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved ingest/empty runs; medians decide"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="record the ingest server with py-spy (collapsed stacks)"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seconds, args.connections, args.repeat, args.profile)))

"""Gateway overhead: p50/p99 latency of one authenticated read called directly on the
service that owns it, and the same read through the gateway (public JWT, API key),
measured by the same client in the same run.

    .venv/bin/python services/gateway/bench/bench_gateway.py [--requests 2000] [--warmup 200]

The distributed mode as deployed: ``sextant serve forecast`` and ``sextant serve gateway``
are separate uvicorn processes on loopback ports over one embedded PostgreSQL, the gateway
reaching forecast through SEXTANT_GATEWAY_SERVICE_URLS. The read is
``GET /v1/forecasts/history?scope=workspace:<id>`` on an empty workspace, so the service's
own work is small and the gateway's share shows: authenticate (JWT signature, or API key
lookup cached for ``api_key_cache_seconds``), rate limit, resolve the scope in its
database, mint an internal token and relay over a kept-alive HTTP connection.

One client sends one request at a time over a kept-alive connection per target. The
three paths take turns in rounds (the order rotating) so drift in the machine's speed
falls on all of them alike. Rate limits are raised so the bench is never throttled.
``--profile FILE`` runs the gateway under cProfile (slower; figures then are not the
gateway's real ones) and writes its stats to FILE at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import httpx

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
from sextant.gateway.upstreams import UPSTREAM_SERVICES
from sextant.runtime.embedded_pg import EmbeddedPostgres, free_port
from sextant.runtime.tokens import InternalTokenSigner, generate_keypair, load_private_key

SERVICE = "forecast"
PATH = "/v1/forecasts/history"
ROUNDS = 10
UNLIMITED = "1000000"


@dataclass
class Target:
    """One way of making the read: where it goes and how it is authorised."""

    name: str
    client: httpx.Client
    headers: Callable[[], dict[str, str]]
    latencies: list[float] = field(default_factory=list)
    gateway_cpu: float = 0.0
    service_cpu: float = 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@contextlib.contextmanager
def serving(
    service: str, env: dict[str, str], profile: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``sextant serve SERVICE`` until /healthz answers; stopped (SIGTERM, then
    SIGKILL) however the block ends. Yields its base URL and process."""
    port = free_port()
    runner = ["-m", "cProfile", "-o", profile] if profile else []
    command = [sys.executable, *runner, "-m", "sextant.cli", "serve", service]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                reason = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise RuntimeError(f"{service} exited: {reason}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} did not come up within 60 s")
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            # uvicorn re-raises the signal once it has shut down; SIGINT surfaces as
            # KeyboardInterrupt, so cProfile still writes its stats
            process.send_signal(signal.SIGINT if profile else signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def created(reply: httpx.Response) -> dict[str, str]:
    if reply.status_code != 201:
        raise RuntimeError(f"{reply.request.method} {reply.request.url.path}: {reply.text}")
    body: dict[str, str] = reply.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def visible(public: httpx.Client, path: str, headers: dict[str, str], mention: str = "") -> None:
    """Wait until ``path`` answers 200 (mentioning ``mention``).

    The gateway answers 201 before its transaction commits (a request-scoped session),
    and a tenant or key looked up too early is cached as unknown for seconds, so each
    step waits for the one before it to land."""
    deadline = time.monotonic() + 10
    while True:
        reply = public.get(path, headers=headers)
        if reply.status_code == 200 and mention in reply.text:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} not visible after 10 s")
        time.sleep(0.01)


def provision(public: httpx.Client, issuer: LocalIssuer) -> tuple[UUID, UUID, str]:
    """Through the gateway, as its users would: a tenant (platform admin), then a
    workspace and a member API key (the tenant's admin). Returns their ids and the key."""
    admin = bearer(
        issuer.mint(subject="bench-admin", role="platform_admin", tenant_id=None, ttl_seconds=3600)
    )
    tenant = created(public.post("/v1/tenants", json={"name": "bench"}, headers=admin))["id"]
    visible(public, f"/v1/tenants/{tenant}", admin)
    owner = bearer(
        issuer.mint(
            subject="bench-owner", role="tenant_admin", tenant_id=UUID(tenant), ttl_seconds=3600
        )
    )
    workspace = created(public.post("/v1/workspaces", json={"name": "bench"}, headers=owner))["id"]
    visible(public, f"/v1/workspaces/{workspace}", owner)
    key = created(
        public.post("/v1/api-keys", json={"name": "bench", "role": "member"}, headers=owner)
    )
    visible(public, "/v1/api-keys", owner, mention=key["id"])
    return UUID(tenant), UUID(workspace), key["key"]


def batch(target: Target, params: dict[str, str], n: int, pids: tuple[int, int]) -> None:
    """``n`` sequential requests; latencies (ms) and both servers' CPU time recorded."""
    gateway_before, service_before = cpu_seconds(pids[0]), cpu_seconds(pids[1])
    for _ in range(n):
        headers = target.headers()
        started = time.perf_counter()
        reply = target.client.get(PATH, params=params, headers=headers)
        elapsed = time.perf_counter() - started
        if reply.status_code != 200:
            raise RuntimeError(f"{target.name}: {reply.status_code} {reply.text[:500]}")
        target.latencies.append(elapsed * 1000)
    target.gateway_cpu += cpu_seconds(pids[0]) - gateway_before
    target.service_cpu += cpu_seconds(pids[1]) - service_before


def run(work: Path, database_url: str, requests: int, warmup: int, profile: str | None) -> None:
    private_pem, public_pem = generate_keypair()
    issuer_pem = new_local_issuer_pem()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": public_pem,
        "SEXTANT_BUS": "local",
        "SEXTANT_DATA_DIR": str(work),
        "SEXTANT_LOG_LEVEL": "WARNING",
    }
    signer = InternalTokenSigner(load_private_key(private_pem))
    issuer = LocalIssuer.from_pem(issuer_pem)
    with serving(SERVICE, env) as (service_url, service_process):
        nowhere = f"http://127.0.0.1:{free_port()}"  # the other services are not running
        urls = {name: nowhere for name in UPSTREAM_SERVICES} | {SERVICE: service_url}
        gateway_env = env | {
            "SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY": private_pem,
            "SEXTANT_GATEWAY_SERVICE_URLS": json.dumps(urls),
            "SEXTANT_GATEWAY_LOCAL_ISSUER_PRIVATE_KEY": issuer_pem,
            "SEXTANT_GATEWAY_TENANT_RATE_PER_SECOND": UNLIMITED,
            "SEXTANT_GATEWAY_TENANT_BURST": UNLIMITED,
            "SEXTANT_GATEWAY_KEY_RATE_PER_SECOND": UNLIMITED,
            "SEXTANT_GATEWAY_KEY_BURST": UNLIMITED,
        }
        with (
            serving("gateway", gateway_env, profile) as (gateway_url, gateway_process),
            httpx.Client(base_url=service_url, timeout=10) as direct,
            httpx.Client(base_url=gateway_url, timeout=10) as public,
        ):
            tenant, workspace, api_key = provision(public, issuer)
            member = bearer(
                issuer.mint(
                    subject="bench-member", role="member", tenant_id=tenant, ttl_seconds=3600
                )
            )
            # What the gateway signs for this call, minted once a round (such a token
            # lives five minutes at most) and outside the timing: the direct path is the
            # service's own cost, the gateway's minting is part of what it adds.
            internal: dict[str, str] = {}

            def remint() -> None:
                token = signer.mint(
                    service=SERVICE,
                    subject="bench-member",
                    role="member",
                    tenant_id=tenant,
                    scope_workspaces=[workspace],
                    ttl_seconds=300,
                )
                internal.update(bearer(token))

            targets = [
                Target(f"direct to {SERVICE} (internal token)", direct, lambda: internal),
                Target("gateway, JWT (local issuer)", public, lambda: member),
                Target("gateway, API key", public, lambda: bearer(api_key)),
            ]
            params = {"scope": f"workspace:{workspace}", "window_weeks": "4"}
            pids = (gateway_process.pid, service_process.pid)
            remint()
            for target in targets:
                batch(target, params, warmup, pids)
                target.latencies.clear()
                target.gateway_cpu = target.service_cpu = 0.0
            started = time.perf_counter()
            per_round = -(-requests // ROUNDS)
            for n in range(ROUNDS):
                remint()
                for target in targets[n % 3 :] + targets[: n % 3]:
                    batch(target, params, per_round, pids)
            seconds = time.perf_counter() - started
    report(targets, requests=per_round * ROUNDS, warmup=warmup, seconds=seconds, profile=profile)


def report(
    targets: list[Target], *, requests: int, warmup: int, seconds: float, profile: str | None
) -> None:
    figures = {}
    for target in targets:
        ordered = sorted(target.latencies)
        figures[target.name] = (statistics.median(ordered), percentile(ordered, 0.99))
    print(
        f"gateway overhead: GET {PATH}?scope=workspace:<id> (empty workspace), {SERVICE} and"
        f" gateway as separate uvicorn processes on loopback, {os.cpu_count()} cores"
    )
    print(
        f"one client, sequential, keep-alive; {requests} requests per path after {warmup}"
        f" warm-up, in {ROUNDS} interleaved rounds ({seconds:.0f} s)"
    )
    if profile:
        print(
            f"NOTE: the gateway ran under cProfile (stats in {profile}); its figures are inflated"
        )
    print()
    header = f"{'':36}{'p50 ms':>9}{'p99 ms':>9}{'gateway CPU':>13}{'service CPU':>13}"
    print(header)
    print(f"{'':36}{'':>9}{'':>9}{'ms/req':>13}{'ms/req':>13}")
    for target in targets:
        p50, p99 = figures[target.name]
        n = len(target.latencies)
        print(
            f"{target.name:36}{p50:>9.2f}{p99:>9.2f}"
            f"{target.gateway_cpu * 1000 / n:>13.2f}{target.service_cpu * 1000 / n:>13.2f}"
        )
    base50, base99 = figures[targets[0].name]
    print()
    print(
        f"{'added by the gateway':36}{'p50 ms':>9}{'p99 ms':>9}{'p50 gw/direct':>15}"
        f"{'p99 gw/direct':>15}"
    )
    for target in targets[1:]:
        p50, p99 = figures[target.name]
        print(
            f"{target.name:36}{p50 - base50:>+9.2f}{p99 - base99:>+9.2f}"
            f"{p50 / base50:>14.2f}x{p99 / base99:>14.2f}x"
        )
    print()
    print("CPU columns: each server process's CPU time (/proc) per request of that path")
    print(f"command: {shlex.join(['.venv/bin/python', *sys.argv])}")


def main(requests: int, warmup: int, profile: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="sextant-gateway-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        database_url = postgres.start()
        try:
            run(Path(tmp), database_url, requests, warmup, profile)
        finally:
            postgres.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="per path, after warm-up")
    parser.add_argument("--warmup", type=int, default=200, help="per path, not counted")
    parser.add_argument(
        "--profile", metavar="FILE", help="run the gateway under cProfile, stats to FILE"
    )
    args = parser.parse_args()
    # SIGTERM (make interrupted, a CI timeout) unwinds like Ctrl-C: servers and
    # PostgreSQL are stopped and the temp dir removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main(args.requests, args.warmup, args.profile))

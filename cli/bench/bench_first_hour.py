"""A newcomer's first minute: from `sextant run` (what `make run` runs) on a fresh data
folder to a healthy ``/v1/status``, then from there to the first 200 forecast while
`sextant demo` loads its team (target: under 60 s together).

    .venv/bin/python cli/bench/bench_first_hour.py [--weeks 12] [--team 8]

Both are the real commands in their own processes, on loopback; the package cache is
warm (the workspace is installed). The forecast is polled from outside, as a user would,
with a tenant-admin token for the tenant the demo announces; the demo's own end (every
webhook posted) is reported as well.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

import httpx

from sextant.gateway.authn import LocalIssuer
from sextant.runtime.embedded_pg import free_port

SEXTANT = [sys.executable, "-m", "sextant.cli"]
ANNOUNCED = re.compile(r"tenant\s+(\S+),\s+workspace\s+(\S+?):", re.DOTALL)


def healthy(url: str) -> bool:
    try:
        reply = httpx.get(f"{url}/v1/status", timeout=5)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200 and reply.json().get("status") == "ok"


def main(weeks: int, team: int) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEXTANT_DATABASE_URL")}
    env["COLUMNS"] = "400"  # the demo's announcement on one line
    with tempfile.TemporaryDirectory(prefix="sextant-first-hour-") as folder:
        data_dir = Path(folder) / "data"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        run_log = (Path(folder) / "run.log").open("wb")
        started = time.monotonic()
        run = subprocess.Popen(
            [*SEXTANT, "run", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=run_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            while not healthy(url):
                if run.poll() is not None or time.monotonic() - started > 300:
                    print(f"sextant run did not become healthy (exit {run.returncode})")
                    return 1
                time.sleep(0.2)
            to_healthy = time.monotonic() - started

            demo_log = Path(folder) / "demo.log"
            demo_started = time.monotonic()
            demo = subprocess.Popen(
                [*SEXTANT, "demo", "--url", url, "--data-dir", str(data_dir), "--weeks",
                 str(weeks), "--team", str(team), "--wait", "0"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=demo_log.open("wb"),
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            issuer = LocalIssuer.from_pem((data_dir / "keys" / "local-issuer.key").read_text())
            announced = None
            announced_at = 0.0
            first_forecast = None
            while first_forecast is None:
                if time.monotonic() - demo_started > 600:
                    print("no forecast within 600 s")
                    return 1
                if announced is None:
                    announced = ANNOUNCED.search(demo_log.read_text(errors="replace"))
                    announced_at = time.monotonic() - demo_started
                    if announced is None and demo.poll() is not None:
                        print(f"sextant demo exited {demo.returncode}:\n{demo_log.read_text()}")
                        return 1
                else:
                    tenant, workspace = UUID(announced.group(1)), announced.group(2)
                    token = issuer.mint(
                        subject="bench@local", role="manager", tenant_id=tenant, ttl_seconds=900
                    )
                    reply = httpx.get(
                        f"{url}/v1/forecasts/when",
                        params={"scope": f"workspace:{workspace}", "items": 60},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=30,
                    )
                    if reply.status_code == 200:
                        first_forecast = time.monotonic() - demo_started
                        break
                time.sleep(0.25)
            demo.wait(900)
            demo_done = time.monotonic() - demo_started
            summary = [line for line in demo_log.read_text().splitlines() if "accepted in" in line]
        finally:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(30)
            except subprocess.TimeoutExpired:
                run.kill()
            run_log.close()
    total = to_healthy + first_forecast
    print(f"first hour ({weeks} weeks of {team} people), on {os.cpu_count()} cores:")
    print(f"  sextant run to a healthy /v1/status:       {to_healthy:6.1f} s")
    print(f"  then sextant demo to a first 200 forecast: {first_forecast:6.1f} s")
    print(f"    of which: the demo's start-up, tenant, workspace and sources: {announced_at:.1f} s")
    print(f"  together:                                  {total:6.1f} s (target < 60 s)")
    print(f"  sextant demo, every webhook posted:        {demo_done:6.1f} s")
    for line in summary:
        print(f"  demo: {line.strip()}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--team", type=int, default=8)
    options = parser.parse_args()
    raise SystemExit(main(options.weeks, options.team))

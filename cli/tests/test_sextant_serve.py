"""`sextant serve SERVICE` runs one service alone, configured only by the environment."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx

from sextant.runtime.embedded_pg import free_port


def serve_until_ready(env: dict[str, str], port: int) -> tuple[int, int, dict]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sextant.cli",
            "serve",
            "ingest",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                unauthenticated = httpx.get(f"http://127.0.0.1:{port}/internal/info", timeout=2)
                if ready.status_code == 200:
                    return ready.status_code, unauthenticated.status_code, ready.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(
            f"not ready: {process.stderr.read().decode()[-2000:] if process.poll() is not None else ''}"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


async def test_serve_runs_one_service_from_environment_settings(database_url, internal_keys):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": internal_keys.public_pem,
        "SEXTANT_BUS": "local",
        "SEXTANT_DATA_DIR": "/tmp/sextant-serve-test",
    }
    ready, unauthenticated, body = await asyncio.to_thread(serve_until_ready, env, free_port())
    assert ready == 200 and body["checks"] == {"database": True, "bus": True, "consumer": True}
    assert unauthenticated == 401

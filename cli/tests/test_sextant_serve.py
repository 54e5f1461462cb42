"""`sextant serve SERVICE` runs one service alone, configured only by the environment."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from sextant.gateway.upstreams import UPSTREAM_SERVICES
from sextant.runtime.embedded_pg import free_port
from sextant.runtime.testing.plugin import InternalKeys


@contextmanager
def serving(service: str, env: dict[str, str]) -> Iterator[str]:
    """Run ``sextant serve SERVICE`` until it is ready; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "sextant.cli", "serve", service, "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            reason = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise AssertionError(f"{service} did not come up: {reason}")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def environment(database_url: str, keys: InternalKeys, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEXTANT_INTERNAL_TOKEN_PUBLIC_KEY": keys.public_pem,
        "SEXTANT_BUS": "local",
        "SEXTANT_DATA_DIR": "/tmp/sextant-serve-test",
        **extra,
    }


def ingest_alone(env: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    with serving("ingest", env) as url:
        return httpx.get(f"{url}/readyz"), httpx.get(f"{url}/internal/info")


async def test_serve_runs_one_service_from_environment_settings(
    database_url: str, internal_keys: InternalKeys
) -> None:
    env = environment(database_url, internal_keys)
    ready, anonymous = await asyncio.to_thread(ingest_alone, env)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "bus": True, "consumer": True}
    assert anonymous.status_code == 401


def gateway_over_http(env: dict[str, str]) -> tuple[httpx.Response, float]:
    with serving("ingest", env) as ingest_url:
        nowhere = f"http://127.0.0.1:{free_port()}"
        urls = {name: nowhere for name in UPSTREAM_SERVICES} | {"ingest": ingest_url}
        gateway_env = env | {"SEXTANT_GATEWAY_SERVICE_URLS": json.dumps(urls)}
        with serving("gateway", gateway_env) as gateway_url:
            started = time.monotonic()
            status = httpx.get(f"{gateway_url}/v1/status", timeout=10)
            return status, time.monotonic() - started


async def test_a_standalone_gateway_reports_services_by_their_urls(
    database_url: str, internal_keys: InternalKeys
) -> None:
    env = environment(
        database_url, internal_keys, SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY=internal_keys.private_pem
    )
    status, seconds = await asyncio.to_thread(gateway_over_http, env)
    assert status.status_code == 503
    assert status.headers["content-type"] == "application/problem+json"
    services = status.json()["services"]
    assert services["gateway"]["ready"] and services["ingest"]["ready"]
    assert not any(services[name]["ready"] for name in UPSTREAM_SERVICES if name != "ingest")
    assert seconds < 5

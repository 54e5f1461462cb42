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

from sextant.gateway.authn import LocalIssuer, new_local_issuer_pem
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
    checks = {check["name"]: check["ok"] for check in ready.json()["checks"]}
    assert checks == dict.fromkeys(
        ["database", "migrations", "bus", "outbox relay", "consumer"], True
    )
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


APP_ORIGIN = "https://app.example.test"


def gateway_edge(env: dict[str, str]) -> tuple[httpx.Response, ...]:
    """A platform admin's cross-tenant read, a 2 MiB body and a CORS preflight, against a
    gateway served alone (its upstreams unreachable: the edge needs none of them)."""
    pem = new_local_issuer_pem()
    issuer = LocalIssuer.from_pem(pem)
    root = {
        "Authorization": "Bearer "
        + issuer.mint(subject="root", role="platform_admin", tenant_id=None, ttl_seconds=600)
    }
    nowhere = f"http://127.0.0.1:{free_port()}"
    gateway_env = env | {
        "SEXTANT_GATEWAY_SERVICE_URLS": json.dumps(dict.fromkeys(UPSTREAM_SERVICES, nowhere)),
        "SEXTANT_GATEWAY_LOCAL_ISSUER_PRIVATE_KEY": pem,
        "SEXTANT_GATEWAY_CORS_ORIGINS": json.dumps([APP_ORIGIN]),
    }
    with serving("gateway", gateway_env) as url:
        tenant = httpx.post(f"{url}/v1/tenants", json={"name": "Acme"}, headers=root)
        across = httpx.get(f"{url}/v1/tenants/{tenant.json()['id']}/workspaces", headers=root)
        too_large = httpx.post(
            f"{url}/v1/workspaces",
            content=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers=root | {"content-type": "application/json"},
        )
        preflight = httpx.options(
            f"{url}/v1/workspaces",
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        return tenant, across, too_large, preflight


async def test_a_served_gateway_has_the_edge_of_the_embedded_one(
    database_url: str, internal_keys: InternalKeys
) -> None:
    env = environment(
        database_url, internal_keys, SEXTANT_INTERNAL_TOKEN_PRIVATE_KEY=internal_keys.private_pem
    )
    tenant, across, too_large, preflight = await asyncio.to_thread(gateway_edge, env)
    assert tenant.status_code == 201, tenant.text
    assert across.status_code == 200, across.text
    assert across.json()["items"] == []
    assert too_large.status_code == 413, too_large.text
    assert too_large.headers["content-type"] == "application/problem+json"
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]

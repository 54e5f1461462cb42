"""The gateway's clients for the services behind it: one httpx client per service,
in-process (ASGI transport) when embedded, over HTTP when distributed.

Routing, retries for idempotent methods and circuit breakers (the gateway issue) belong
here too, so that every call to a service goes through one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

UPSTREAM_SERVICES = ("ingest", "identity", "forecast", "insights", "archive", "reports")


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    checks: dict[str, bool] | None = None


class Upstreams:
    """Clients for every upstream service, by name."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self._clients = dict(clients)

    @classmethod
    def over_http(cls, urls: Mapping[str, str], timeout: float) -> Upstreams:
        missing = [name for name in UPSTREAM_SERVICES if name not in urls]
        if missing:
            raise ValueError(f"SEXTANT_GATEWAY_SERVICE_URLS lacks: {', '.join(missing)}")
        return cls(
            {
                name: httpx.AsyncClient(base_url=urls[name], timeout=timeout)
                for name in UPSTREAM_SERVICES
            }
        )

    @classmethod
    def in_process(cls, apps: Mapping[str, FastAPI], timeout: float) -> Upstreams:
        return cls(
            {
                name: httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url=f"http://{name}",
                    timeout=timeout,
                )
                for name, app in apps.items()
            }
        )

    @property
    def names(self) -> list[str]:
        return sorted(self._clients)

    async def readiness(self, name: str) -> Readiness:
        """The service's own ``/readyz`` verdict; unreachable or slow counts as not ready."""
        client = self._clients[name]
        timeout = client.timeout.read or 2.0
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            # The ASGI transport ignores httpx's own timeouts, hence the outer one.
            async with asyncio.timeout(timeout):
                response = await client.get("/readyz")
        except (httpx.HTTPError, TimeoutError) as exc:
            return Readiness(False, f"unreachable: {type(exc).__name__}")
        try:
            body: dict[str, Any] = response.json() if response.content else {}
        except ValueError:
            body = {"detail": f"answered {response.status_code} with a body that is not JSON"}
        if response.status_code == 200:
            return Readiness(True, "ready", body.get("checks"))
        return Readiness(False, str(body.get("detail", response.status_code)), body.get("checks"))

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients.values()))

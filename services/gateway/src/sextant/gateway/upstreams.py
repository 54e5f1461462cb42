"""The gateway's clients for the services behind it: one httpx client per service,
in-process (ASGI transport) when embedded, over HTTP when distributed.

Every call to a service goes through here: readiness probes and forwarded requests
today; retries for idempotent methods and circuit breakers (the gateway issue) belong
here too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import structlog
from fastapi import FastAPI, Request, Response

from sextant.runtime.errors import problem

T = TypeVar("T")

UPSTREAM_SERVICES = ("ingest", "identity", "forecast", "insights", "archive", "reports")

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. Content-Length is
# recomputed for the streamed body.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


async def within(seconds: float, call: Coroutine[Any, Any, T]) -> T:
    """``call``'s result, or TimeoutError after ``seconds`` — whatever ``call`` does.

    The call runs as its own task and is abandoned (cancelled, not awaited) when time is
    up. A timeout around an await in the same task is not enough: the ASGI transport
    ignores httpx's timeouts, and a connect stuck on a listener that never accepts was
    seen to swallow the cancellation, which held a request for a minute."""
    task = asyncio.ensure_future(call)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(_retrieve)
    raise TimeoutError(f"no answer within {seconds} s")


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: an abandoned call's error is not news


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
            response = await within(timeout, client.get("/readyz"))
        except (httpx.HTTPError, TimeoutError) as exc:
            return Readiness(False, f"unreachable: {type(exc).__name__}")
        try:
            body: dict[str, Any] = response.json() if response.content else {}
        except ValueError:
            body = {"detail": f"answered {response.status_code} with a body that is not JSON"}
        if response.status_code == 200:
            return Readiness(True, "ready", body.get("checks"))
        return Readiness(False, str(body.get("detail", response.status_code)), body.get("checks"))

    async def forward(self, name: str, request: Request, path: str) -> Response:
        """Pass ``request`` to service ``name`` at ``path`` and relay its answer.

        The body streams through (the service enforces its own size limits); hop-by-hop
        headers are dropped; the request id and traceparent travel along. A service that
        does not answer in time gives 503 with a problem body, never a hang."""
        client = self._clients[name]
        headers = [
            (key, value)
            for key, value in request.headers.items()
            if key.lower() not in HOP_BY_HOP and key.lower() != "host"
        ]
        context = structlog.contextvars.get_contextvars()
        headers += [
            ("x-request-id", str(context.get("request_id", ""))),
            ("traceparent", str(context.get("traceparent", ""))),
        ]
        upstream = client.build_request(
            request.method, path, headers=headers, content=request.stream()
        )
        timeout = client.timeout.read or 10.0
        try:
            response = await within(timeout, client.send(upstream))
        except (httpx.HTTPError, TimeoutError) as exc:
            return problem(
                503,
                "Service unavailable",
                f"the {name} service did not answer ({type(exc).__name__}); nothing was accepted",
                type_slug="upstream-unavailable",
                instance=request.url.path,
                retry_after=5,
            )
        relayed = Response(response.content, status_code=response.status_code)
        for key, value in response.headers.multi_items():
            # The gateway sets its own x-request-id (the same id) on the way out.
            if key.lower() not in HOP_BY_HOP and key.lower() != "x-request-id":
                relayed.headers.append(key, value)
        return relayed

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients.values()))

"""The gateway's clients for the services behind it: one httpx client per service,
in-process (ASGI transport) when embedded, over HTTP when distributed.

Every call to a service goes through here: readiness probes and forwarded requests,
retries for idempotent methods, and circuit breakers per (service, caller key) — the
tenant of an authenticated call, the source of a webhook — so one caller's failures
pause only its own calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from sextant.gateway.domain.limits import Breakers
from sextant.runtime.errors import problem
from sextant.runtime.tracing import TracedTransport

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


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUS = frozenset({502, 503, 504})


def _forwarded_headers(request: Request, authorization: str | None) -> list[tuple[bytes, bytes]]:
    """The caller's headers minus hop-by-hop ones (and its credential, when replaced),
    plus this request's id and traceparent.

    As raw bytes, passed on as they came: httpx encodes a ``str`` header as ASCII, so a
    Latin-1 byte (0xe9) in any header of any request was a crash here. Judging a value
    is the service's part (ingest names a delivery id it refuses)."""
    dropped = HOP_BY_HOP | {"host", "x-request-id", "traceparent"}
    if authorization is not None:
        dropped |= {"authorization", "cookie"}
    headers = [
        (name, value)
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in dropped
    ]
    context = structlog.contextvars.get_contextvars()
    headers += [
        (b"x-request-id", str(context.get("request_id", "")).encode("latin-1", "replace")),
        (b"traceparent", str(context.get("traceparent", "")).encode("latin-1", "replace")),
    ]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1", "replace")))
    return headers


SMALL_REPLY_BYTES = 256 * 1024


async def _relay(response: httpx.Response) -> Response:
    """Relay an upstream answer: a small one whole (with its Content-Length), any other
    streamed as it arrives. Hop-by-hop headers stay behind."""
    headers = [
        (k, v)
        for k, v in response.headers.multi_items()
        # The gateway sets its own x-request-id (the same id) on the way out.
        if k.lower() not in HOP_BY_HOP and k.lower() != "x-request-id"
    ]

    length = response.headers.get("content-length", "")
    if (
        length.isdigit()
        and int(length) <= SMALL_REPLY_BYTES
        and "content-encoding" not in response.headers  # aread() would decode it
    ):
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        whole = Response(content, status_code=response.status_code)
        for key, value in headers:
            whole.headers.append(key, value)
        return whole

    async def body() -> AsyncIterator[bytes]:
        async for chunk in response.aiter_raw():
            yield chunk

    relayed = StreamingResponse(
        body(), status_code=response.status_code, background=BackgroundTask(response.aclose)
    )
    for key, value in headers:
        relayed.headers.append(key, value)
    return relayed


def _unavailable(name: str, request: Request, why: str, retry_after: float) -> Response:
    return problem(
        503,
        "Service unavailable",
        f"the {name} service is unavailable: {why}; nothing was accepted",
        type_slug="upstream-unavailable",
        instance=request.url.path,
        retry_after=max(1, round(retry_after)),
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


def _well_formed(checks: object) -> TypeGuard[list[dict[str, Any]]]:
    """A list of checks as ``/readyz`` lists them: name, ok, detail each."""
    return isinstance(checks, list) and all(
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and isinstance(c.get("ok"), bool)
        and isinstance(c.get("detail"), str)
        for c in checks
    )


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # mark it retrieved: an abandoned call's error is not news


@dataclass(frozen=True)
class Readiness:
    """A service's verdict as its ``/readyz`` gave it: each check with name, ok, detail."""

    ready: bool
    detail: str
    checks: list[dict[str, Any]] | None = None


class Upstreams:
    """Clients for every upstream service, by name, and circuit breakers by (service, key)."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient],
        *,
        retries: int = 2,
        breaker_failures: int = 5,
        breaker_cooldown: float = 10.0,
        probe_deadline: float = 45.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = dict(clients)
        self._clock = clock
        self.configure(
            retries=retries,
            breaker_failures=breaker_failures,
            breaker_cooldown=breaker_cooldown,
            probe_deadline=probe_deadline,
        )

    def configure(
        self,
        *,
        retries: int,
        breaker_failures: int,
        breaker_cooldown: float,
        probe_deadline: float = 45.0,
        breaker_keys: int = 100_000,
    ) -> None:
        """Apply the gateway's settings (the embedded mode builds upstreams before them)."""
        self._retries = retries
        self._breakers = Breakers(breaker_failures, breaker_cooldown, probe_deadline, breaker_keys)

    def breaker_state(self, name: str, key: str) -> str:
        return self._breakers.state((name, key))

    @classmethod
    def over_http(cls, urls: Mapping[str, str], timeout: float) -> Upstreams:
        missing = [name for name in UPSTREAM_SERVICES if name not in urls]
        if missing:
            raise ValueError(f"SEXTANT_GATEWAY_SERVICE_URLS lacks: {', '.join(missing)}")
        return cls(
            {
                name: httpx.AsyncClient(
                    transport=TracedTransport(httpx.AsyncHTTPTransport()),
                    base_url=urls[name],
                    timeout=timeout,
                )
                for name in UPSTREAM_SERVICES
            }
        )

    @classmethod
    def in_process(cls, apps: Mapping[str, FastAPI], timeout: float) -> Upstreams:
        return cls(
            {
                name: httpx.AsyncClient(
                    transport=TracedTransport(httpx.ASGITransport(app=app)),
                    base_url=f"http://{name}",
                    timeout=timeout,
                )
                for name, app in apps.items()
            }
        )

    def client(self, name: str) -> httpx.AsyncClient:
        return self._clients[name]

    @property
    def names(self) -> list[str]:
        return sorted(self._clients)

    async def readiness(self, name: str) -> Readiness:
        """The service's own ``/readyz`` verdict with its checks. Unreachable or slow counts
        as not ready, and so does a 200 without the checks every Sextant service lists:
        whatever answered is not the service (a URL pointing elsewhere)."""
        client = self._clients[name]
        timeout = client.timeout.read or 2.0
        try:
            response = await within(timeout, client.get("/readyz"))
        except (httpx.HTTPError, TimeoutError) as exc:
            return Readiness(False, f"unreachable: {type(exc).__name__}")
        try:
            body: dict[str, Any] = response.json() if response.content else {}
        except ValueError:
            body = {}
        checks = body.get("checks") if isinstance(body, dict) else None
        if not _well_formed(checks):
            return Readiness(
                False, f"answered {response.status_code} without its checks: not a Sextant service"
            )
        ready = response.status_code == 200 and all(check["ok"] for check in checks)
        detail = str(body.get("detail") or ("ready" if ready else response.status_code))
        return Readiness(ready, detail, checks)

    async def forward(
        self,
        name: str,
        request: Request,
        path: str,
        *,
        key: str,
        body: bytes,
        authorization: str | None = None,
        retry: bool = True,
    ) -> Response:
        """Pass ``request`` with ``body`` to service ``name`` at ``path``; relay its answer.

        ``key`` names whose calls these are (a tenant, a webhook source): the circuit
        breaker of (service, key) answers 503 at once while that caller's calls keep
        failing, and other callers' breakers never see them. Only the upstream's faults
        count — no connection, no answer in time, 502/503/504 — and the body was read
        whole before, so a slow or aborted upload never does. ``authorization`` replaces
        the caller's (the internal token). Idempotent methods are retried on those faults
        (unless ``retry`` is False: a GET that spends something, such as an OAuth
        callback's single-use state); a service that does not answer in time gives 503
        with a problem body, never a hang.
        """
        client = self._clients[name]
        breaker = self._breakers.get((name, key))
        attempt = breaker.attempt(self._clock())
        if attempt is None:
            return _unavailable(
                name,
                request,
                "it keeps failing for these calls, so they are paused",
                breaker.retry_after(self._clock()),
            )
        with attempt:  # given back whatever happens below: crash, cancellation, a verdict
            headers = _forwarded_headers(request, authorization)
            attempts = 1 + (self._retries if retry and request.method in IDEMPOTENT else 0)
            timeout = client.timeout.read or 10.0
            query = request.url.query
            url = f"{path}?{query}" if query else path
            for tried in range(1, attempts + 1):
                upstream = client.build_request(request.method, url, headers=headers, content=body)
                try:
                    response = await within(timeout, client.send(upstream, stream=True))
                except (httpx.HTTPError, TimeoutError) as exc:
                    if tried < attempts:
                        await asyncio.sleep(0.05 * 2 ** (tried - 1))
                        continue
                    attempt.failed(self._clock())
                    return _unavailable(
                        name, request, f"it did not answer ({type(exc).__name__})", 5
                    )
                if response.status_code in RETRYABLE_STATUS and tried < attempts:
                    await response.aclose()
                    await asyncio.sleep(0.05 * 2 ** (tried - 1))
                    continue
                if response.status_code in RETRYABLE_STATUS:
                    attempt.failed(self._clock())
                else:
                    attempt.succeeded()
                return await _relay(response)
        raise AssertionError("unreachable: the last attempt returns")

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients.values()))

"""The distributed mode's upstream URLs come from one JSON setting, and must name everyone;
circuit breakers per (service, key) always leave half-open, whatever the probe does; a
webhook body is read whole, in time and within its limit, before anything is forwarded."""

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from sextant.gateway.api.platform import UploadAborted, UploadTooSlow, read_body
from sextant.gateway.domain.limits import UploadPace
from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams, within
from sextant.runtime.errors import PayloadTooLarge

URLS = {name: f"http://{name}:8000" for name in UPSTREAM_SERVICES}


async def test_service_urls_are_read_from_a_json_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEXTANT_GATEWAY_SERVICE_URLS", json.dumps(URLS))
    monkeypatch.setenv("SEXTANT_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "0.5")
    settings = GatewaySettings()
    upstreams = Upstreams.over_http(settings.service_urls, settings.upstream_timeout_seconds)
    try:
        assert upstreams.names == sorted(UPSTREAM_SERVICES)
    finally:
        await upstreams.close()


def test_a_service_missing_from_the_map_is_named() -> None:
    partial = {name: url for name, url in URLS.items() if name != "reports"}
    with pytest.raises(ValueError, match="SEXTANT_GATEWAY_SERVICE_URLS lacks: reports"):
        Upstreams.over_http(partial, 1.0)


async def test_within_answers_on_time_even_when_the_call_swallows_its_cancellation() -> None:
    async def stubborn() -> str:
        with contextlib.suppress(asyncio.CancelledError):  # as a stuck connect was seen to do
            await asyncio.sleep(10)
        await asyncio.sleep(0.5)
        return "late"

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await within(0.1, stubborn())
    assert time.monotonic() - started < 0.4
    assert await within(1, asyncio.sleep(0, result="on time")) == "on time"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Ingest:
    """An in-process upstream that does what its ``script`` says, one call at a time:
    ``503``, ``"crash"`` (raises, as the header bug did), ``"hang"`` (never answers),
    then 202."""

    def __init__(self, *script: int | str) -> None:
        self.script, self.calls, self.entered = list(script), 0, asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        self.entered.set()
        step = self.script.pop(0) if self.script else 202
        if step == "crash":
            raise RuntimeError("the upstream call crashed")
        if step == "hang":
            await asyncio.Event().wait()
        await send({"type": "http.response.start", "status": step, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def webhook_request() -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/v1/hooks/s",
            "raw_path": b"/v1/hooks/s",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000),
            "server": ("gateway", 80),
            "scheme": "http",
        }
    )


def opened_upstreams(ingest: Ingest, clock: Clock) -> Upstreams:
    """Upstreams whose breaker for (ingest, "a") two 503s opened at t=0 (cooldown 10 s,
    probe deadline 30 s)."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ingest), base_url="http://ingest", timeout=600
    )
    upstreams = Upstreams(
        {"ingest": client}, breaker_failures=2, breaker_cooldown=10, probe_deadline=30, clock=clock
    )
    return upstreams


async def send(upstreams: Upstreams, key: str = "a") -> int:
    reply = await upstreams.forward("ingest", webhook_request(), "/v1/hooks/s", key=key, body=b"{}")
    return reply.status_code


async def open_for_a(upstreams: Upstreams) -> None:
    assert [await send(upstreams), await send(upstreams)] == [503, 503]
    assert upstreams.breaker_state("ingest", "a") == "open"


async def test_a_probe_that_crashes_leaves_half_open_and_the_next_call_probes() -> None:
    clock, ingest = Clock(), Ingest(503, 503, "crash")
    upstreams = opened_upstreams(ingest, clock)
    await open_for_a(upstreams)
    clock.now = 10
    with pytest.raises(RuntimeError, match="crashed"):
        await send(upstreams)
    assert upstreams.breaker_state("ingest", "a") == "open"  # not stuck half-open
    assert await send(upstreams) == 202 and ingest.calls == 4
    assert upstreams.breaker_state("ingest", "a") == "closed"


async def test_a_cancelled_probe_leaves_half_open_and_the_next_call_probes() -> None:
    clock, ingest = Clock(), Ingest(503, 503, "hang")
    upstreams = opened_upstreams(ingest, clock)
    await open_for_a(upstreams)
    clock.now = 10
    ingest.entered.clear()
    probe = asyncio.create_task(send(upstreams))
    await ingest.entered.wait()
    assert upstreams.breaker_state("ingest", "a") == "half-open"
    probe.cancel()  # as when the server drops a request whose client left
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await send(upstreams) == 202 and ingest.calls == 4


async def test_a_stuck_probe_is_reclaimed_after_its_deadline() -> None:
    clock, ingest = Clock(), Ingest(503, 503, "hang")
    upstreams = opened_upstreams(ingest, clock)
    await open_for_a(upstreams)
    clock.now = 10
    ingest.entered.clear()
    stuck = asyncio.create_task(send(upstreams))
    await ingest.entered.wait()
    clock.now = 39
    assert await send(upstreams) == 503 and ingest.calls == 3  # the probe is still out
    clock.now = 40
    assert await send(upstreams) == 202 and ingest.calls == 4
    assert upstreams.breaker_state("ingest", "a") == "closed"
    stuck.cancel()


async def test_one_keys_failures_pause_only_that_keys_calls() -> None:
    clock, ingest = Clock(), Ingest(503, 503)
    upstreams = opened_upstreams(ingest, clock)
    await open_for_a(upstreams)
    assert await send(upstreams, "a") == 503 and ingest.calls == 2  # paused: not sent
    assert await send(upstreams, "b") == 202 and ingest.calls == 3
    assert upstreams.breaker_state("ingest", "b") == "closed"


def uploading(*messages: dict[str, Any]) -> Request:
    """A request whose body arrives as ``messages``; after them, nothing ever comes."""
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return Request(webhook_request().scope, receive)


PACE = UploadPace(grace=0.05, min_bytes_per_second=1_000_000)


async def test_a_webhook_body_is_read_whole_in_chunks() -> None:
    request = uploading(
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b" 1}", "more_body": False},
    )
    assert await read_body(request, 1024, PACE) == b'{"a": 1}'


async def test_a_client_that_leaves_mid_body_never_reaches_a_breaker() -> None:
    request = uploading(
        {"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}
    )
    with pytest.raises(UploadAborted):
        await read_body(request, 1024, PACE)


async def test_a_body_that_stops_coming_is_cut_off_after_the_grace() -> None:
    request = uploading({"type": "http.request", "body": b"{", "more_body": True})
    started = time.monotonic()
    with pytest.raises(UploadTooSlow, match="1 bytes in"):
        await read_body(request, 1024, PACE)
    assert time.monotonic() - started < 1


async def test_a_body_over_the_limit_is_refused_as_it_arrives() -> None:
    request = uploading(
        {"type": "http.request", "body": b" " * 600, "more_body": True},
        {"type": "http.request", "body": b" " * 600, "more_body": True},
    )
    with pytest.raises(PayloadTooLarge, match="1024 byte"):
        await read_body(request, 1024, PACE)

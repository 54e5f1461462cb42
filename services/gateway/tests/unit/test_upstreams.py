"""The distributed mode's upstream URLs come from one JSON setting, and must name everyone."""

import asyncio
import contextlib
import json
import time

import pytest

from sextant.gateway.settings import GatewaySettings
from sextant.gateway.upstreams import UPSTREAM_SERVICES, Upstreams, within

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

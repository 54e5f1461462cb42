"""HTTP for backfills: pagination helpers and a GET that honours the tools' rate limits.

GitHub answers 403/429 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``
(epoch seconds); GitLab 429 with ``ratelimit-reset``; Jira 429 with ``Retry-After``. All
mean "wait, then ask again": the client sleeps until the reset (up to a limit) rather
than failing the job. Server errors are retried with backoff; other errors fail the page.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

log = structlog.get_logger()

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class ApiError(Exception):
    """A page could not be fetched; the message says which and why (no secrets)."""


class Api:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float = 30.0,
        max_wait_seconds: float = 900.0,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, follow_redirects=True
        )
        self._max_wait, self._attempts, self._sleep = max_wait_seconds, attempts, sleep
        self.requests = 0
        self.waited_seconds = 0.0

    async def close(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        failures = 0
        while True:
            self.requests += 1
            try:
                response = await self._client.get(url, params=params)
            except httpx.TransportError as exc:
                error = type(exc).__name__
            else:
                error = f"HTTP {response.status_code}"
                wait = _rate_limit_wait(response)
                if wait is not None:
                    if wait > self._max_wait:
                        raise ApiError(
                            f"{_path(url)}: rate limited for {wait:.0f} s, over the limit"
                        )
                    log.info("backfill.rate_limited", path=_path(url), wait_seconds=round(wait, 1))
                    self.waited_seconds += wait
                    await self._sleep(wait)
                    continue
                if response.status_code < 400:
                    return response
                if response.status_code < 500:
                    raise ApiError(f"{_path(url)}: {error}: {_excerpt(response)}")
            failures += 1
            if failures >= self._attempts:
                raise ApiError(f"{_path(url)}: {error} after {failures} attempts")
            await self._sleep(0.5 * 2 ** (failures - 1))


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a Link header (GitHub, GitLab), if any."""
    match = _NEXT_LINK.search(response.headers.get("link", ""))
    return match.group(1) if match else None


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait when the response says "rate limited", else None."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after)
        try:
            return max(parsedate_to_datetime(retry_after).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return 60.0
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
    if remaining == "0" and reset and reset.isdigit():
        return max(int(reset) - time.time(), 0.0) + 1.0
    if response.status_code == 429:
        return 60.0
    return None  # a plain 403: permissions, not a limit


def _path(url: str) -> str:
    return httpx.URL(url).path or url


def _excerpt(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")

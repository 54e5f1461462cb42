"""HTTP for backfills: query strings, pagination helpers and a GET that honours the
tools' rate limits.

GitHub answers 403/429 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``
(epoch seconds), or with ``Retry-After`` for its secondary limits; GitLab 429 with
``RateLimit-Reset`` (and ``Retry-After``); Jira 429 with ``Retry-After``. All mean "wait,
then ask again": the client sleeps as told rather than failing the job — but only so
often and so long (:data:`RATE_LIMITED_ANSWERS`, :data:`MAX_WAIT_SECONDS`), so an API
that never lets up fails the page the normal way (kept pages, resumable). Server errors
are retried with backoff; other errors fail the page.

The URLs come from a tenant's credentials, so every request goes through the runtime's
egress policy (:mod:`sextant.runtime.egress`), and an error says the status and where,
never what the answer said: an answer's body is the target's, not ours to show.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog

from sextant.runtime.egress import STRICT, EgressPolicy, EgressRefused, egress_client

log = structlog.get_logger()

RATE_LIMITED_ANSWERS = 10
"""Rate-limited answers one request waits out before its page fails: GitHub's secondary
limits ask for a minute or so, a few times over; an API that still says "wait" after ten
waits is not going to stop saying it, and the job should say so instead of running."""

MAX_WAIT_SECONDS = 3900.0
"""The longest one request waits for rate limits in all: GitHub's primary limit resets
hourly, so a backfill that used up its hour waits out the rest of it (plus a minute)."""

DEFAULT_RATE_LIMIT_WAIT = 60.0  # a limit that names no reset: GitHub's advice, a minute

_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

# What a status that ends a page means for the credentials (said instead of the body).
_HINTS = {
    401: "the credentials were refused",
    403: "the credentials may not read this",
    404: "not found: check the URL and the names in the credentials",
}


class ApiError(Exception):
    """A page could not be fetched; the message says which and why (no secrets)."""

    def __init__(
        self, message: str, status: int | None = None, *, rate_limited: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that ended it, if any
        self.rate_limited = rate_limited  # still "wait" after the waits allowed: try later


class Api:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        egress: EgressPolicy = STRICT,
        auth: httpx.Auth | None = None,
        timeout: float = 30.0,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        rate_limited_answers: int = RATE_LIMITED_ANSWERS,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            "headers": headers,
            "auth": auth,
            "timeout": timeout,
            "follow_redirects": True,
            "event_hooks": {"request": [_keep_headers_home(base_url, headers)]},
        }
        self._client = (
            httpx.AsyncClient(transport=transport, **options)  # an in-process fake, in tests
            if transport is not None
            else egress_client(egress, **options)
        )
        self._max_wait, self._max_limited = max_wait_seconds, rate_limited_answers
        self._attempts, self._sleep = attempts, sleep
        self.requests = 0
        self.waited_seconds = 0.0

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, method: str, url: str, body: dict[str, Any]) -> httpx.Response:
        """One write (a check run, a commit status), tried once: its caller retries on
        its own schedule. ApiError for a refused egress or no answer; any status returns."""
        try:
            return await self._client.request(method, url, json=body)
        except EgressRefused as exc:
            raise ApiError(f"refused by the egress policy: {exc}") from None
        except httpx.HTTPError as exc:
            where = _where(self._client.build_request(method, url).url)
            raise ApiError(f"{where}: {type(exc).__name__}") from None

    async def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        failures, limited, waited = 0, 0, 0.0
        while True:
            self.requests += 1
            try:
                response = await self._client.get(url, params=params)
            except EgressRefused as exc:
                raise ApiError(f"refused by the egress policy: {exc}") from None
            except httpx.TransportError as exc:
                error = type(exc).__name__
            else:
                where = _where(response.request.url)  # an auth flow's exchange, maybe
                wait = rate_limit_wait(response)
                if wait is not None:
                    limited += 1
                    if limited > self._max_limited or waited + wait > self._max_wait:
                        raise ApiError(
                            f"{where}: HTTP {response.status_code}, still rate limited "
                            f"after {waited:.0f} s of waiting ({limited} answers said wait)",
                            response.status_code,
                            rate_limited=True,
                        )
                    log.info("backfill.rate_limited", path=where, wait_seconds=round(wait, 1))
                    waited += wait
                    self.waited_seconds += wait
                    await self._sleep(wait)
                    continue
                if response.status_code < 400:
                    return response
                error = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    hint = _HINTS.get(response.status_code)
                    said = f"{error}, {hint}" if hint else error
                    raise ApiError(f"{where}: {said}", response.status_code)
            failures += 1
            if failures >= self._attempts:
                where = _where(self._client.build_request("GET", url).url)
                raise ApiError(f"{where}: {error} after {failures} attempts")
            await self._sleep(0.5 * 2 ** (failures - 1))


def _keep_headers_home(
    base_url: str, headers: dict[str, str]
) -> Callable[[httpx.Request], Awaitable[None]]:
    """A request hook that drops the source's own headers (GitLab's ``PRIVATE-TOKEN``)
    from a redirect to another host: httpx drops ``Authorization`` there, not these."""
    home, names = httpx.URL(base_url).host, tuple(headers)

    async def hook(request: httpx.Request) -> None:
        if request.url.host != home:
            for name in names:
                request.headers.pop(name, None)

    return hook


def query(path: str, **params: Any) -> str:
    """``path`` with ``params`` as an encoded query string (a ``+`` in a time zone
    offset would otherwise arrive as a space)."""
    return f"{path}?{urlencode(params)}"


def utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the form GitHub and GitLab document."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"  # %Y drops leading zeros on Linux


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a Link header (GitHub, GitLab), if any."""
    match = _NEXT_LINK.search(response.headers.get("link", ""))
    return match.group(1) if match else None


async def every_item(
    api: Api,
    url: str,
    next_page: Callable[[httpx.Response], str | None] = next_link,
    pages: int = 50,
) -> list[dict[str, Any]]:
    """Every item of a (small) paginated list, e.g. a pull request's reviews, up to
    ``pages`` pages (logged when there are more)."""
    items: list[dict[str, Any]] = []
    following: str | None = url
    for _ in range(pages):
        if not following:
            break
        response = await api.get(following)
        body = response.json()
        if not isinstance(body, list):
            raise ApiError(f"{_where(response.request.url)}: expected a list")
        items.extend(body)
        following = next_page(response)
    if following:  # more than anyone reviews or commits in one change: say it was cut
        log.warning("backfill.list_cut_short", path=_path(url), pages=pages, items=len(items))
    return items


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds the API asks us to wait, or None when the answer is not a rate limit.

    A 429 always is one; a 403 only when GitHub says so (no requests remaining, a
    ``Retry-After``, or a secondary limit's message) — otherwise it is a permission."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after:
        return _retry_after(retry_after)
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
    if reset and reset.isdigit() and (remaining == "0" or response.status_code == 429):
        # Epoch seconds, rounded down by the API: one more second so we land after it.
        return max(int(reset) - time.time(), 0.0) + 1.0
    if response.status_code == 429 or "secondary rate limit" in response.text.lower():
        return DEFAULT_RATE_LIMIT_WAIT
    return None


def _retry_after(value: str) -> float:
    """``Retry-After``: delay seconds or an HTTP date."""
    if value.strip().isdigit():
        return float(value)
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return DEFAULT_RATE_LIMIT_WAIT


def _path(url: str) -> str:
    return httpx.URL(url).path or url


def _where(url: httpx.URL) -> str:
    """The host and path asked, without the query (which may carry a token)."""
    return f"{url.host}{url.path}"

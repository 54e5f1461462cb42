"""The backfill client's GET: how long each tool's "rate limited" answer makes it wait,
and that waiting is bounded, so an API that never lets up fails the page."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest
import structlog.testing

from sextant.ingest.backfill.api import RATE_LIMITED_ANSWERS, Api, ApiError, every_item

Answer = Callable[[httpx.Request], httpx.Response]


class Sleeps(list[float]):
    """The waits asked for, without waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def api_answering(*answers: httpx.Response | Answer, **options: float) -> tuple[Api, Sleeps]:
    """An Api whose server gives ``answers`` in turn (the last one for ever after)."""
    given = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = given.pop(0) if len(given) > 1 else given[0]
        return answer(request) if callable(answer) else answer

    sleeps = Sleeps()
    api = Api(
        "https://api.example", {}, sleep=sleeps, transport=httpx.MockTransport(handler), **options
    )  # type: ignore[arg-type]
    return api, sleeps


OK = httpx.Response(200, json=[])


async def test_an_api_that_answers_429_for_ever_fails_the_page_after_the_allowed_waits() -> None:
    api, sleeps = api_answering(httpx.Response(429, headers={"Retry-After": "0"}))
    with pytest.raises(ApiError, match="still rate limited") as raised:
        await api.get("/rest/api/2/search")
    assert raised.value.status == 429
    assert len(sleeps) == RATE_LIMITED_ANSWERS
    assert api.requests == RATE_LIMITED_ANSWERS + 1


async def test_waiting_for_rate_limits_stops_at_the_total_wait_allowed() -> None:
    api, sleeps = api_answering(
        httpx.Response(429, headers={"Retry-After": "3000"}), max_wait_seconds=3900
    )
    with pytest.raises(ApiError, match=r"after 3000 s of waiting \(2 answers said wait\)"):
        await api.get("/rest/api/2/search")
    assert sleeps == [3000.0] and api.waited_seconds == 3000.0


async def test_gitlab_429_waits_until_its_ratelimit_reset() -> None:
    reset = int(time.time()) + 30
    limited = httpx.Response(429, headers={"RateLimit-Reset": str(reset)})
    api, sleeps = api_answering(limited, OK)
    assert (await api.get("/projects/15/issues")).status_code == 200
    [wait] = sleeps
    assert 29 <= wait <= 31 and api.waited_seconds == wait


async def test_github_primary_limit_waits_until_its_reset() -> None:
    reset = int(time.time()) + 10
    limited = httpx.Response(
        403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    api, sleeps = api_answering(limited, OK)
    assert (await api.get("/repos/o/r/pulls")).status_code == 200
    assert 9 <= sleeps[0] <= 11


async def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    in_20_s = formatdate(time.time() + 20, usegmt=True)
    api, sleeps = api_answering(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(403, headers={"Retry-After": in_20_s}),  # GitHub's secondary limit
        OK,
    )
    assert (await api.get("/rest/api/2/search")).status_code == 200
    assert sleeps[0] == 7 and 18 <= sleeps[1] <= 20


async def test_a_github_secondary_limit_without_headers_waits_a_minute() -> None:
    secondary = httpx.Response(
        403, json={"message": "You have exceeded a secondary rate limit. Please wait."}
    )
    api, sleeps = api_answering(secondary, OK)
    assert (await api.get("/repos/o/r/pulls")).status_code == 200
    assert sleeps == [60.0]


async def test_a_plain_403_is_a_permission_error_not_a_wait() -> None:
    api, sleeps = api_answering(httpx.Response(403, json={"message": "Resource not accessible"}))
    with pytest.raises(ApiError, match="HTTP 403") as raised:
        await api.get("/repos/o/r/pulls")
    assert raised.value.status == 403 and sleeps == []


async def test_a_server_error_is_retried_with_backoff_and_recovers() -> None:
    api, sleeps = api_answering(httpx.Response(502), httpx.Response(503), OK)
    assert (await api.get("/projects/15")).status_code == 200
    assert sleeps == [0.5, 1.0] and api.waited_seconds == 0


async def test_a_list_longer_than_its_page_budget_is_cut_and_says_so() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "1"))
        link = f'<https://api.example/items?page={n + 1}>; rel="next"'
        return httpx.Response(200, json=[n], headers={"link": link})

    api, _ = api_answering(page)
    with structlog.testing.capture_logs() as logged:
        items = await every_item(api, "/items?page=1", pages=3)
    assert items == [1, 2, 3]
    assert [e["event"] for e in logged] == ["backfill.list_cut_short"]
    assert logged[0]["items"] == 3


SECRET = "internal-secret-8d2e"


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (400, "api.example/repos/o/r/pulls: HTTP 400"),
        (401, "api.example/repos/o/r/pulls: HTTP 401, the credentials were refused"),
        (403, "api.example/repos/o/r/pulls: HTTP 403, the credentials may not read this"),
        (
            404,
            "api.example/repos/o/r/pulls: HTTP 404, not found: check the URL and the names "
            "in the credentials",
        ),
        (422, "api.example/repos/o/r/pulls: HTTP 422"),
    ],
)
async def test_a_refused_call_says_its_status_and_where_never_the_body(
    status: int, says: str
) -> None:
    api, _ = api_answering(httpx.Response(status, json={"message": SECRET}))
    with pytest.raises(ApiError) as raised:
        await api.get("/repos/o/r/pulls?token=abc")
    assert str(raised.value) == says  # the query (which may hold a token) left out too


async def test_a_server_error_that_lasts_says_its_status_and_where_never_the_body() -> None:
    api, _ = api_answering(httpx.Response(502, text=f"<html>{SECRET}</html>"))
    with pytest.raises(ApiError) as raised:
        await api.get("/projects/15")
    assert str(raised.value) == "api.example/projects/15: HTTP 502 after 4 attempts"


@pytest.mark.parametrize(
    "base_url", ["https://localhost:9", "http://127.0.0.1:9", "https://[::1]:9"]
)
async def test_an_api_on_loopback_is_refused_at_once_without_retries(base_url: str) -> None:
    sleeps = Sleeps()
    api = Api(base_url, {}, sleep=sleeps)  # the default policy, real sockets
    try:
        with pytest.raises(ApiError, match=r"^refused by the egress policy: "):
            await api.get("/repos/o/r")
    finally:
        await api.close()
    assert api.requests == 1 and sleeps == []


async def test_a_redirect_to_another_host_does_not_carry_the_source_token() -> None:
    seen: dict[str, dict[str, str]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = dict(request.headers)
        if request.url.host == "gitlab.example":
            return httpx.Response(301, headers={"location": "https://cdn.example/page"})
        return httpx.Response(200, json=[])

    api = Api(
        "https://gitlab.example",
        {"PRIVATE-TOKEN": "glpat-secret"},
        transport=httpx.MockTransport(handler),
    )
    try:
        await api.get("/api/v4/projects")
    finally:
        await api.close()
    assert seen["gitlab.example"]["private-token"] == "glpat-secret"
    assert "private-token" not in seen["cdn.example"]

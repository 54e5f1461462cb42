"""Signed deliveries with edge values, on real PostgreSQL: every one gets a 4xx problem
naming what is wrong, or is stored and reported unreadable (its admins told, a replay
after a fix reads it again) — never a 5xx, and never a 503 while the database is up."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sextant.contracts import uuid7
from sextant.ingest.db.repository import NewDelivery
from sextant.ingest.writer import PendingDelivery

from ..fixtures import payloads
from ..fixtures.signing import sign
from .conftest import TENANT, Ingest

PLACEHOLDER = "__edge__"


def _body(payload: dict[str, Any], path: list[str], literal: str) -> bytes:
    """``payload`` as JSON with the value at ``path`` replaced by the raw JSON ``literal``
    (which may be no JSON at all: NaN, a lone surrogate, 10,000 levels of nesting)."""
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = PLACEHOLDER
    return json.dumps(payload).replace(f'"{PLACEHOLDER}"', literal).encode()


# kind, its event header, a corpus-like payload, a timestamp it reads, a text it copies
KINDS: dict[str, tuple[str | None, Callable[[], dict[str, Any]], list[str], list[str]]] = {
    "github": (
        "pull_request",
        lambda: payloads.github_pull_request("opened"),
        ["pull_request", "created_at"],
        ["pull_request", "title"],
    ),
    "gitlab": (
        "Merge Request Hook",
        lambda: payloads.gitlab_merge_request("open"),
        ["object_attributes", "created_at"],
        ["object_attributes", "title"],
    ),
    "jira": (
        None,
        payloads.jira_created,
        ["issue", "fields", "created"],
        ["issue", "fields", "summary"],
    ),
    "generic": (
        None,
        payloads.generic_deployment,
        ["occurred_at"],
        ["environment"],
    ),
}

# Where the copied text lands in the canonical event, which the reason names.
NUL_FIELD = {
    "github": "change_request.title",
    "gitlab": "change_request.title",
    "jira": "work_item.title",
    "generic": "environment",
}

# Times no tool means: stored, and reported unreadable naming the field.
TIME_EDGES = [
    "1e300",
    "1e20",
    "-1e20",
    "100000000000000000000000000000",
    '"9999-12-31T23:59:59+14:00"',
    '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01T00:00:00+14:00"',
    '"0001-01-01T00:00:00Z"',
    '"0000-01-01T00:00:00Z"',
]
# Not JSON as the parsers read it: 400, nothing stored.
NOT_JSON = {
    "NaN": "not valid JSON",
    "Infinity": "not valid JSON",
    "-Infinity": "not valid JSON",
    "1e400": "not valid JSON",
    '"\\ud800"': "not valid JSON",
    '{"a": ' * 10_000 + "1" + "}" * 10_000: "depth",
}


async def _source(ingest: Ingest, kind: str) -> dict[str, Any]:
    return await ingest.source(kind)


async def _send(
    ingest: Ingest, kind: str, source: dict[str, Any], body: bytes, event: str | None
) -> httpx.Response:
    headers = sign(kind, source["secret"], body, delivery=f"d-{uuid7()}", event=event)
    return await ingest.deliver(source, body, headers)


def _no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_out_of_range_times_are_stored_and_reported_naming_the_field(
    ingest: Ingest, kind: str
) -> None:
    event, payload, time_path, _ = KINDS[kind]
    source = await _source(ingest, kind)
    for literal in TIME_EDGES:
        response = await _send(ingest, kind, source, _body(payload(), time_path, literal), event)
        _no_server_error(response)
        assert response.status_code == 202, (literal, response.text)
        receipt = response.json()
        assert receipt["outcome"] == "failed", (literal, receipt)
        assert time_path[-1] in receipt["reason"], (literal, receipt)
    rows = await ingest.sql("SELECT outcome FROM ingest.deliveries")
    assert [r["outcome"] for r in rows] == ["failed"] * len(TIME_EDGES)


async def test_out_of_range_incident_times_are_reported_naming_the_field(ingest: Ingest) -> None:
    source = await _source(ingest, "generic")
    for field in ("opened_at", "resolved_at"):
        for literal in TIME_EDGES:
            incident = {
                "type": "incident.resolved",
                "id": "inc-1",
                "title": "Checkout down",
                "opened_at": "2026-03-05T08:00:00Z",
                "resolved_at": "2026-03-05T09:00:00Z",
            }
            response = await _send(
                ingest, "generic", source, _body(incident, [field], literal), None
            )
            _no_server_error(response)
            assert response.status_code == 202, (literal, response.text)
            receipt = response.json()
            assert receipt["outcome"] == "failed" and field in receipt["reason"], receipt


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_bodies_the_parser_refuses_answer_400_naming_why(ingest: Ingest, kind: str) -> None:
    event, payload, _, text_path = KINDS[kind]
    source = await _source(ingest, kind)
    for literal, says in NOT_JSON.items():
        response = await _send(ingest, kind, source, _body(payload(), text_path, literal), event)
        _no_server_error(response)
        assert response.status_code == 400, (literal[:20], response.text)
        assert says in response.json()["detail"], (literal[:20], response.json())
    assert await ingest.sql("SELECT id FROM ingest.deliveries") == []


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_nul_in_a_copied_text_is_stored_and_reported_naming_the_field(
    ingest: Ingest, kind: str
) -> None:
    """PostgreSQL's jsonb and text refuse \\u0000: the raw body is kept (bytes), the
    delivery reported unreadable, naming the event's field; no event is staged."""
    event, payload, _, text_path = KINDS[kind]
    source = await _source(ingest, kind)
    body = _body(payload(), text_path, '"before\\u0000after"')
    response = await _send(ingest, kind, source, body, event)
    _no_server_error(response)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["outcome"] == "failed" and receipt["events"] == 0, receipt
    assert "NUL" in receipt["reason"], receipt
    assert f"data.{NUL_FIELD[kind]} holds a NUL" in receipt["reason"], receipt
    [stored] = await ingest.sql("SELECT outcome, reason FROM ingest.deliveries")
    assert stored["outcome"] == "failed"
    # the admins are told; the notice is the only event staged
    notices = await ingest.published("sextant.notifications", 1)
    assert len(notices) == 1 and "could not be read" in notices[0].data["title"]


async def test_a_huge_integer_id_is_reported_not_crashed_on(ingest: Ingest) -> None:
    source = await _source(ingest, "github")
    for path in (["pull_request", "id"], ["pull_request", "number"], ["repository", "id"]):
        body = _body(payloads.github_pull_request("opened"), path, "1" + "0" * 30)
        response = await _send(ingest, "github", source, body, "pull_request")
        _no_server_error(response)
        assert response.status_code == 202, response.text
        receipt = response.json()
        if receipt["outcome"] == "failed":
            assert path[-1] in receipt["reason"], receipt


async def test_a_jira_event_name_that_is_no_name_is_not_stored_as_one(ingest: Ingest) -> None:
    """The delivery's event column is text: a number, an object or a NUL there once
    answered 503 (asyncpg's argument error reads as an outage)."""
    source = await _source(ingest, "jira")
    for literal in ("12345", '{"a": 1}', '"jira:issue_created\\u0000"', '"' + "x" * 500 + '"'):
        body = _body(payloads.jira_created(), ["webhookEvent"], literal)
        response = await _send(ingest, "jira", source, body, None)
        _no_server_error(response)
        assert response.status_code == 202, (literal, response.text)
    events = [r["event"] for r in await ingest.sql("SELECT event FROM ingest.deliveries")]
    assert events == [None] * 4


async def test_a_deeply_nested_pull_request_answers_400_not_500(ingest: Ingest) -> None:
    source = await _source(ingest, "github")
    for depth in (900, 2_000, 10_000):
        body = _body(
            payloads.github_pull_request("opened"),
            ["pull_request", "head"],
            '{"a": ' * depth + "1" + "}" * depth,
        )
        response = await _send(ingest, "github", source, body, "pull_request")
        _no_server_error(response)
        if depth > 1_000:
            assert response.status_code == 400 and "depth" in response.json()["detail"]


# delivery ids ---------------------------------------------------------------------------

ID_HEADERS = {
    "github": "X-GitHub-Delivery",
    "gitlab": "Idempotency-Key",
    "jira": "X-Atlassian-Webhook-Identifier",
}


@pytest.mark.parametrize("kind", sorted(ID_HEADERS))
async def test_a_delivery_id_too_long_or_not_ascii_answers_400_naming_the_header(
    ingest: Ingest, kind: str
) -> None:
    event, payload, _, _ = KINDS[kind]
    source = await _source(ingest, kind)
    body = json.dumps(payload()).encode()
    header = ID_HEADERS[kind]
    for bad in ("x" * 201, "x" * 3_000, "with space", "caf\xe9"):
        headers: dict[str, Any] = sign(kind, source["secret"], body, event=event)
        headers[header.lower()] = bad.encode("latin-1")
        response = await ingest.deliver(source, body, headers)
        assert response.status_code == 400, (bad[:20], response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert header in response.json()["detail"]
    ok = sign(kind, source["secret"], body, delivery="x" * 200, event=event)
    assert (await ingest.deliver(source, body, ok)).status_code == 202
    assert len(await ingest.sql("SELECT id FROM ingest.deliveries")) == 1


async def test_a_standard_webhooks_id_is_bounded_too(ingest: Ingest) -> None:
    source = await _source(ingest, "generic")
    body = json.dumps(payloads.generic_deployment()).encode()
    response = await ingest.deliver(
        source, body, sign("generic", source["secret"], body, delivery="m" * 3_000)
    )
    assert response.status_code == 400, response.text
    assert "webhook-id" in response.json()["detail"]


async def test_a_long_delivery_id_fails_none_of_its_batch_neighbours(ingest: Ingest) -> None:
    """Forty deliveries of one tenant in flight with one whose id is too long to store:
    the forty are accepted, the long one refused with a 400 of its own."""
    source = await _source(ingest, "github")
    bodies = [
        json.dumps(payloads.github_pull_request("opened", number=n)).encode() for n in range(40)
    ]
    good = [
        ingest.deliver(
            source,
            body,
            sign("github", source["secret"], body, delivery=f"ok-{n}", event="pull_request"),
        )
        for n, body in enumerate(bodies)
    ]
    long = sign("github", source["secret"], bodies[0], delivery=secrets.token_urlsafe(3_000))
    responses = await asyncio.gather(
        *good[:20], ingest.deliver(source, bodies[0], long), *good[20:]
    )
    statuses = [r.status_code for r in responses]
    assert statuses[20] == 400, responses[20].text
    assert statuses[:20] + statuses[21:] == [202] * 40
    assert len(await ingest.sql("SELECT id FROM ingest.deliveries")) == 40


async def test_the_writer_fails_only_the_row_it_cannot_store(ingest: Ingest) -> None:
    """The group-commit writer itself: a batch of 60 rows of one tenant, one of which
    PostgreSQL refuses (its id is past the unique index's 2,704-byte row limit), commits
    the 59 and fails only that one."""
    writer = ingest.state.extras["ingest"].writer
    source = await _source(ingest, "github")

    def pending(delivery_id: str) -> PendingDelivery:
        row = NewDelivery(
            id=uuid7(),
            source_id=source["id"],
            delivery_id=delivery_id,
            event="push",
            received_at=datetime.now(UTC),
            body=b"{}",
            outcome="ignored",
            reason="test",
            event_count=0,
        )
        return PendingDelivery(TENANT, row, [])

    batch = [pending(f"good-{n}") for n in range(60)]
    batch[37] = pending(secrets.token_urlsafe(6_000))  # incompressible, past any index row
    results = await asyncio.gather(*(writer.write(p) for p in batch), return_exceptions=True)
    assert isinstance(results[37], Exception)
    assert results[:37] + results[38:] == [True] * 59
    assert len(await ingest.sql("SELECT id FROM ingest.deliveries")) == 59


async def test_latin1_bytes_in_any_header_of_a_direct_delivery_are_no_500(
    ingest: Ingest,
) -> None:
    """Straight to ingest (no gateway): "²" (0xb2) once passed str.isdigit() and crashed
    int() on webhook-timestamp; every other header is named or ignored."""
    source = await _source(ingest, "generic")
    body = json.dumps(payloads.generic_deployment()).encode()
    signed = sign("generic", source["secret"], body, delivery="latin")
    for name in [*signed, "content-type", "x-request-id", "traceparent", "x-custom"]:
        for value in (b"\xb2", b"1\xb2", b"\xff\xe9"):
            response = await ingest.deliver(source, body, signed | {name: value})
            _no_server_error(response)
            assert response.headers["x-request-id"].isascii()
    timestamp = await ingest.deliver(source, body, signed | {"webhook-timestamp": b"\xb2"})
    assert timestamp.status_code == 401 and "webhook-timestamp" in timestamp.json()["detail"]


async def test_a_backslash_before_u0000_is_text_not_a_nul(ingest: Ingest) -> None:
    """The NUL check searches the written JSON for ``\\u0000``, which an escaped
    backslash followed by ``u0000`` also contains: such a title is text, and stored."""
    source = await _source(ingest, "github")
    body = _body(
        payloads.github_pull_request("opened"), ["pull_request", "title"], '"C:\\\\u0000 path"'
    )
    response = await _send(ingest, "github", source, body, "pull_request")
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "normalized", response.json()
    [opened] = await ingest.published("sextant.activity", 1)
    assert opened.data["change_request"]["title"] == "C:\\u0000 path"


async def test_an_author_that_is_no_account_is_reported_not_asserted(ingest: Ingest) -> None:
    """Found by the fuzz: a pull request's or review's ``user`` that is a string was an
    ``assert`` in the normalizer, and a 500."""
    source = await _source(ingest, "github")
    for literal in ('"9999-12-31T23:59:59-14:00"', "42", "[]"):
        body = _body(payloads.github_pull_request("opened"), ["pull_request", "user"], literal)
        response = await _send(ingest, "github", source, body, "pull_request")
        assert response.status_code == 202, response.text
        receipt = response.json()
        assert receipt["outcome"] == "failed", receipt
        assert "pull_request.user is not an account object" in receipt["reason"], receipt


async def test_a_deeply_nested_generic_type_is_reported_without_a_traceback(
    ingest: Ingest, capfd: pytest.CaptureFixture[str]
) -> None:
    """Found by the fuzz: pydantic quoted a ``type`` nested 1,000 deep in its error, whose
    repr failed inside it and was printed to stderr as "Exception ignored"."""
    source = await _source(ingest, "generic")
    deep = '{"a": ' * 1_000 + "1" + "}" * 1_000
    body = _body(payloads.generic_deployment(), ["type"], deep)
    response = await _send(ingest, "generic", source, body, None)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "failed"
    assert response.json()["reason"].startswith("type: must be deployment")
    logged = capfd.readouterr()
    assert "Exception ignored" not in logged.out + logged.err
    assert "RecursionError" not in logged.out + logged.err

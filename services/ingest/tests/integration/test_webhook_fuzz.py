"""Fuzzing the webhook endpoint with valid signatures, on the real ingest app and real
PostgreSQL: corpus-like payloads of every tool, mutated (edge numbers and strings,
out-of-range times, deep nesting, wrong types, missing keys, odd delivery ids) or
mutated byte by byte, then signed the way each tool signs, or sent with one header of
odd bytes (Latin-1, controls, 3,000 characters). Every answer must be under
500 — a 503 would say the database is down, and it is up — and every error
problem+json.

Hypothesis draws the cases (derandomized, so a run is repeatable; no shrinking: every
case is sent and every failure reported with what was sent); they go out 16 at a time,
so the group-commit writer batches good deliveries with bad ones. Bounded: 840
deliveries, seconds on a quiet box. Then each source replays all it stored: every one reads
again."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sextant.contracts import uuid7

from ..fixtures import payloads
from ..fixtures.signing import sign
from .conftest import Ingest

MUTATED_PER_KIND = 120
BYTE_FLIPS_PER_KIND = 50
ODD_HEADERS_PER_KIND = 40
IN_FLIGHT = 16

# kind → (event header, payload) for the corpus-like payloads each kind gets
CORPUS: dict[str, list[tuple[str | None, Callable[[], dict[str, Any]]]]] = {
    "github": [
        ("pull_request", lambda: payloads.github_pull_request("opened")),
        ("pull_request", lambda: payloads.github_pull_request("closed", merged=True)),
        ("push", payloads.github_push),
        (
            "issues",
            lambda: {
                "action": "closed",
                "issue": payloads.github_issue(),
                "repository": payloads.REPO,
            },
        ),
        ("deployment_status", payloads.github_deployment_status),
    ],
    "gitlab": [
        ("Merge Request Hook", lambda: payloads.gitlab_merge_request("merge")),
        ("Issue Hook", lambda: payloads.gitlab_issue("close")),
        ("Pipeline Hook", payloads.gitlab_pipeline),
        ("Deployment Hook", payloads.gitlab_deployment),
        ("Push Hook", payloads.gitlab_push),
    ],
    "jira": [
        (None, payloads.jira_created),
        (
            None,
            lambda: payloads.jira_transitioned(
                "To Do", "Done", "done", changelog_id="1", at_ms=1772442000000, resolution="Done"
            ),
        ),
    ],
    "generic": [
        (None, payloads.generic_deployment),
        (
            None,
            lambda: {
                "type": "incident.resolved",
                "id": "inc-1",
                "title": "Checkout down",
                "opened_at": "2026-03-05T08:00:00Z",
                "resolved_at": "2026-03-05T09:00:00Z",
            },
        ),
    ],
}


class Raw(str):
    """JSON text put in the body as it is (nesting too deep for json.dumps to write)."""


EDGE_NUMBERS = st.sampled_from(
    [
        0,
        -1,
        1.5,
        1e-300,
        1e20,
        -1e20,
        1e300,
        -1e300,
        2**53 + 1,
        2**63 - 1,
        2**63,
        -(2**63) - 1,
        2**64,
        10**30,
        -(10**30),
        float("nan"),
        float("inf"),
        float("-inf"),
    ]
)
EDGE_TIMES = st.sampled_from(
    [
        "9999-12-31T23:59:59+14:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-03-02T25:00:00Z",
        "2026-03-02T10:00:00+99:99",
        "2026-03-02 10:00:00 UTC",
        "1969-12-31T23:59:59Z",
    ]
)
EDGE_STRINGS = st.one_of(
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "\ud800", "\udfff x", "é", "💥", "null", "\\u0000"]
    ),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
DEEP = st.integers(min_value=1, max_value=3_000).map(
    lambda depth: Raw('{"a": ' * depth + "1" + "}" * depth)
)
ANY_VALUE = st.one_of(EDGE_NUMBERS, EDGE_TIMES, EDGE_STRINGS, JSON_VALUES, DEEP)
# None: a fresh id of the tool's usual kind (three cases in four, so that redeliveries of
# a repeated draw hide nothing a new delivery would meet); else Latin-1 text, any length.
DELIVERY_IDS = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300),
)


@dataclass
class Case:
    kind: str
    event: str | None
    body: bytes
    delivery: str | None
    what: str
    # a header set after signing (name, raw value): Latin-1 bytes, controls, any length
    odd_header: tuple[str, bytes] | None = None


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a payload a mutation can aim at (the root excluded)."""
    found = [here] if here else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*here, key))
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            found += _paths(inner, (*here, n))
    return found


def _dump(payload: Any) -> bytes:
    raws: list[str] = []

    def hide(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value)
            return f"__raw_{len(raws) - 1}__"
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value

    text = json.dumps(hide(payload))  # NaN and Infinity as their literals, as some tools do
    for n, raw in enumerate(raws):
        text = text.replace(f'"__raw_{n}__"', raw)
    return text.encode()


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> Case:
    event, make = draw(st.sampled_from(CORPUS[kind]))
    payload = copy.deepcopy(make())  # the fixtures share dicts (REPO) between payloads
    path = draw(st.sampled_from(_paths(payload)))
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    how = draw(st.sampled_from(["replace", "replace", "replace", "drop"]))
    if how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
        what = f"drop {path}"
    else:
        value = draw(ANY_VALUE)
        parent[path[-1]] = value
        what = f"{path} = {str(value)[:60]!r}"
    delivery = draw(DELIVERY_IDS)
    return Case(kind, event, _dump(payload), delivery, what)


@st.composite
def byte_flipped(draw: st.DrawFn, kind: str) -> Case:
    event, make = draw(st.sampled_from(CORPUS[kind]))
    body = bytearray(_dump(make()))
    at = draw(st.integers(min_value=0, max_value=len(body) - 1))
    byte = draw(st.integers(min_value=0, max_value=255))
    body[at] = byte
    return Case(kind, event, bytes(body), None, f"byte {at} = {byte:#04x}")


# Every header ingest reads, and one it does not.
HEADER_NAMES = [
    "x-github-delivery",
    "x-github-event",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-gitlab-token",
    "x-gitlab-event",
    "idempotency-key",
    "x-gitlab-event-uuid",
    "x-atlassian-webhook-identifier",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "x-request-id",
    "traceparent",
    "x-custom",
]


@st.composite
def odd_header(draw: st.DrawFn, kind: str) -> Case:
    event, make = draw(st.sampled_from(CORPUS[kind]))
    name = draw(st.sampled_from(HEADER_NAMES))
    value = draw(
        st.one_of(
            st.binary(max_size=40).map(lambda raw: bytes(b for b in raw if b not in b"\r\n")),
            st.text(
                alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=3000
            ).map(lambda text: text.encode("latin-1")),
            st.sampled_from([b"\xb2", b"1\xb2", b"\xff\xe9", b"\xd9\xa3", b"99999999999999999999"]),
        )
    )
    body = _dump(copy.deepcopy(make()))
    return Case(kind, event, body, None, f"header {name} = {value[:40]!r}", (name, value))


def _draw(strategy: st.SearchStrategy[Case], examples: int) -> list[Case]:
    cases: list[Case] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


def _headers(kind: str, secret: str, case: Case) -> dict[str, bytes]:
    """Signed as the tool signs, with the case's delivery id as the tool would send it
    (Standard Webhooks signs its id too: signed here with the drawn one)."""
    delivery = str(uuid7()) if case.delivery is None else case.delivery
    headers = sign(kind, secret, case.body, delivery=delivery, event=case.event)
    raw = {name: value.encode("latin-1") for name, value in headers.items()}
    if case.odd_header is not None:
        name, value = case.odd_header
        raw[name] = value
    return raw


def _judge(case: Case, response: httpx.Response) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"{status} for {case.kind} {case.what}: {response.text[:300]}"
    if status >= 400 and response.headers.get("content-type") != "application/problem+json":
        return f"{status} not problem+json for {case.kind} {case.what}"
    if status < 300 and response.json().get("outcome") not in (
        "normalized",
        "ignored",
        "failed",
        "duplicate",
    ):
        return f"{status} without an outcome for {case.kind} {case.what}: {response.text[:300]}"
    return None


async def test_signed_mutated_deliveries_never_get_a_5xx(ingest: Ingest) -> None:
    sources = {kind: await ingest.source(kind) for kind in CORPUS}
    cases = [
        case
        for kind in CORPUS
        for case in _draw(mutated(kind), MUTATED_PER_KIND)
        + _draw(byte_flipped(kind), BYTE_FLIPS_PER_KIND)
        + _draw(odd_header(kind), ODD_HEADERS_PER_KIND)
    ]
    failures: list[str] = []
    statuses: dict[int, int] = {}

    async def send(case: Case) -> None:
        source = sources[case.kind]
        response = await ingest.deliver(
            source, case.body, _headers(case.kind, source["secret"], case)
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if (failure := _judge(case, response)) is not None:
            failures.append(failure)

    for start in range(0, len(cases), IN_FLIGHT):
        await asyncio.gather(*(send(case) for case in cases[start : start + IN_FLIGHT]))
    assert failures == [], "\n".join(failures[:20])
    # the fuzz reached past the signature and the parser: deliveries were stored
    assert statuses.get(202, 0) > len(cases) // 4, statuses
    assert statuses.get(400, 0) > 0, statuses
    stored = await ingest.sql("SELECT count(*) AS n FROM ingest.deliveries")
    assert stored[0]["n"] == statuses.get(202, 0), (stored, statuses)
    # every stored delivery reads again in a replay: what was accepted stays replayable
    window = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "limit": 5_000}
    replayed = 0
    for source in sources.values():
        reply = await ingest.client.post(
            f"/v1/sources/{source['id']}/replay",
            json=window,
            headers=ingest.as_role("tenant_admin"),
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["complete"] is True
        replayed += reply.json()["deliveries"]
    assert replayed == stored[0]["n"]

"""Suggestions through the real google-genai SDK against a fake Gemini on loopback: good,
malformed, hallucinated, slow, 429 and 500 replies; the grounding check, the retries, the
breaker and the template fallback. An optional test asks the real API when
GEMINI_API_KEY is set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import SecretStr

from sextant.insights.health.detectors import Finding
from sextant.insights.health.gemini import Gemini, build, suggest
from sextant.insights.health.testing import FakeGemini, FakeReply, findings_of, prompt_of
from sextant.insights.settings import HealthSettings
from sextant.runtime.testing.apps import served

A, B = UUID(int=0xA), UUID(int=0xB)
FINDINGS = [
    Finding("knowledge_silo-1", "knowledge_silo", "high", (A,), "billing", {"author_share": 0.9}),
    Finding("pairing-2", "pairing", "medium", (B, A), "billing", {"open_hours": 80.0}),
]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[tuple[FakeGemini, str]]:
    gemini = FakeGemini(seed=1)
    async with served(gemini.app) as url:
        yield gemini, url


def settings_for(url: str, **overrides: object) -> HealthSettings:
    values: dict[str, object] = {
        "gemini_api_key": SecretStr("fake-key"),
        "gemini_base_url": url,
        "gemini_timeout_seconds": 1.0,
        "gemini_backoff_seconds": 0.01,
        "gemini_attempts": 3,
    }
    values.update(overrides)
    return HealthSettings(**values)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def run(fake: tuple[FakeGemini, str], *replies: FakeReply, **overrides: object):  # type: ignore[no-untyped-def]
    server, url = fake
    server.script.clear()
    server.requests.clear()
    server.then(*replies)
    clock = Clock()
    gemini = Gemini(settings_for(url, **overrides), clock=clock, sleep=clock.sleep)
    try:
        outcome = await suggest(FINDINGS, gemini, tokens_left=10_000, prompt_version="v1")
    finally:
        await gemini.aclose()
    return outcome, clock, gemini


async def test_a_good_reply_is_grounded_and_the_prompt_holds_pseudonyms_only(fake) -> None:  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(fake, FakeReply(tokens=640))
    assert outcome.written_by == "model"
    assert [d.written_by for d in outcome.drafts] == ["model", "model"]
    assert outcome.dropped == {}
    assert outcome.tokens == 640
    assert outcome.drafts[1].aliases == {"P2": B, "P1": A}
    server = fake[0]
    assert server.paths == ["/v1/models/gemini-2.5-pro:generateContent"]
    prompt = prompt_of(server.requests[0])
    assert str(A) not in prompt and str(B) not in prompt
    assert findings_of(prompt)[1]["people"] == ["P2", "P1"]
    assert server.requests[0]["generationConfig"]["responseMimeType"] == "application/json"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("unknown_finding", "unknown_finding"),
        ("unknown_person", "unknown_person"),
        ("invalid", "invalid"),
        ("malformed", "malformed_reply"),
    ],
)
async def test_ungrounded_replies_are_dropped_counted_and_templated(fake, mode, reason) -> None:  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(fake, FakeReply(mode=mode))
    expected = 1 if mode == "malformed" else 2
    assert outcome.dropped == {reason: expected}
    # every finding still gets a suggestion, from its template
    assert [d.written_by for d in outcome.drafts] == ["template", "template"]
    assert [d.finding_ids for d in outcome.drafts] == [("knowledge_silo-1",), ("pairing-2",)]


async def test_429_waits_its_retry_after_then_succeeds(fake) -> None:  # type: ignore[no-untyped-def]
    outcome, clock, _ = await run(
        fake, FakeReply(status=429, headers={"Retry-After": "7"}), FakeReply()
    )
    assert outcome.written_by == "model"
    assert clock.slept == [7.0]  # the server's 7 s, not the 0.01 s backoff
    assert len(fake[0].requests) == 2


async def test_500s_back_off_then_templates_when_attempts_run_out(fake) -> None:  # type: ignore[no-untyped-def]
    outcome, clock, _ = await run(fake, *[FakeReply(status=500)] * 3)
    assert outcome.written_by == "template"
    assert outcome.fallback == "http_500"
    assert clock.slept == [0.01, 0.02]
    assert len(fake[0].requests) == 3


async def test_a_slow_reply_times_out(fake) -> None:  # type: ignore[no-untyped-def]
    outcome, _, _ = await run(
        fake, FakeReply(delay=1.0), gemini_timeout_seconds=0.2, gemini_attempts=1
    )
    assert (outcome.written_by, outcome.fallback) == ("template", "timeout")


async def test_the_breaker_opens_after_consecutive_failures(fake) -> None:  # type: ignore[no-untyped-def]
    server, url = fake
    server.script.clear()
    server.then(*[FakeReply(status=500)] * 2)
    clock = Clock()
    settings = settings_for(url, gemini_attempts=1, gemini_breaker_failures=2)
    gemini = Gemini(settings, clock=clock, sleep=clock.sleep)
    try:
        for _ in range(2):
            await suggest(FINDINGS, gemini, tokens_left=10_000, prompt_version="v1")
        asked = len(server.requests)
        outcome = await suggest(FINDINGS, gemini, tokens_left=10_000, prompt_version="v1")
        assert (outcome.written_by, outcome.fallback) == ("template", "breaker_open")
        assert len(server.requests) == asked  # not asked at all
    finally:
        await gemini.aclose()


async def test_no_key_no_client_and_no_budget_no_call(fake) -> None:  # type: ignore[no-untyped-def]
    assert build(HealthSettings()) is None
    outcome = await suggest(FINDINGS, None, tokens_left=10_000, prompt_version="v1")
    assert (outcome.written_by, outcome.fallback) == ("template", "no_api_key")
    server, url = fake
    server.requests.clear()
    gemini = Gemini(settings_for(url))
    try:
        outcome = await suggest(FINDINGS, gemini, tokens_left=0, prompt_version="v1")
    finally:
        await gemini.aclose()
    assert (outcome.written_by, outcome.fallback) == ("template", "token_budget")
    assert server.requests == []


@pytest.mark.skipif(not os.environ.get("GEMINI_API_KEY"), reason="GEMINI_API_KEY not set")
async def test_the_real_api_answers_grounded_suggestions() -> None:
    settings = HealthSettings(
        gemini_api_key=SecretStr(os.environ["GEMINI_API_KEY"]),
        gemini_model=os.environ.get("GEMINI_MODEL", "gemini-2.5-flash"),
        gemini_timeout_seconds=60,
    )
    gemini = Gemini(settings)
    try:
        outcome = await suggest(FINDINGS, gemini, tokens_left=100_000, prompt_version="v1")
    finally:
        await gemini.aclose()
    assert outcome.written_by == "model", outcome.fallback
    assert outcome.tokens > 0
    assert datetime.now(UTC)  # the reply came back in this run

"""Gemini through the ``google-genai`` SDK: structured output, our own retries and breaker.

The SDK's own retries are off (one attempt per call) so that ours decide: up to
``gemini_attempts`` calls, waiting ``backoff * 2^n`` between them (capped), or what a 429's
``Retry-After`` asks when it asks more; 5xx, 429, timeouts and connection errors are
retried, any other 4xx is not. Every call goes through a circuit breaker
(:mod:`sextant.runtime.breakers`): after ``gemini_breaker_failures`` failures in a row the
model is not asked until the cooldown's probe, and suggestions come from templates.

No API key, no client: the SDK is never built, so nothing can leave the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
from google import genai
from google.genai import errors, types

from sextant.insights.health.detectors import Finding
from sextant.insights.health.suggestions import (
    Draft,
    ModelReply,
    aliases,
    complete,
    ground,
    render_prompt,
    template,
)
from sextant.insights.settings import HealthSettings
from sextant.runtime.breakers import CircuitBreaker

SYSTEM = (
    "You turn statistical findings about a software team into grounded, kind, concrete actions."
)


class GeminiUnavailable(Exception):
    """The model gave no usable reply; ``reason`` says why (it is stored with the run)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Reply:
    text: str
    tokens: int


def _retry_after(exc: errors.APIError) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Gemini:
    """One deployment's Gemini: a client, a breaker, the retry policy."""

    def __init__(
        self,
        settings: HealthSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if settings.gemini_api_key is None:
            raise ValueError("no Gemini API key: use templates")
        self.settings = settings
        self.clock, self.sleep = clock, sleep
        self.breaker = CircuitBreaker(
            threshold=settings.gemini_breaker_failures,
            cooldown=settings.gemini_breaker_cooldown_seconds,
            probe_deadline=settings.gemini_timeout_seconds * 2,
        )
        self._http = httpx.AsyncClient(trust_env=False)  # no proxy from the environment
        self.client = genai.Client(
            api_key=settings.gemini_api_key.get_secret_value(),
            http_options=types.HttpOptions(
                base_url=settings.gemini_base_url,
                timeout=int(settings.gemini_timeout_seconds * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _wait(self, attempt: int, exc: Exception) -> float:
        s = self.settings
        wait: float = s.gemini_backoff_seconds * 2**attempt
        if isinstance(exc, errors.APIError) and exc.code == 429:
            asked = _retry_after(exc)
            if asked is not None:
                wait = max(wait, asked)
        return min(wait, s.gemini_max_backoff_seconds)

    async def generate(self, prompt: str) -> Reply:
        """The model's reply to ``prompt`` as JSON text, and the tokens it cost."""
        s = self.settings
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM,
            response_mime_type="application/json",
            response_schema=ModelReply,
            temperature=0.2,
        )
        last = "no attempt"
        failure: Exception = GeminiUnavailable(last)
        for attempt in range(s.gemini_attempts):
            if attempt:
                await self.sleep(self._wait(attempt - 1, failure))
            held = self.breaker.attempt(self.clock())
            if held is None:
                raise GeminiUnavailable("breaker_open")
            with held:
                try:
                    async with asyncio.timeout(s.gemini_timeout_seconds):
                        response = await self.client.aio.models.generate_content(
                            model=s.gemini_model, contents=prompt, config=config
                        )
                except errors.APIError as exc:
                    failure = exc
                    last = f"http_{exc.code}"
                    if exc.code != 429 and (exc.code or 0) < 500:
                        raise GeminiUnavailable(last) from exc  # our request is wrong
                    held.failed(self.clock())
                    continue
                except (TimeoutError, httpx.TransportError) as exc:
                    failure = exc
                    timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
                    last = "timeout" if timed_out else "network"
                    held.failed(self.clock())
                    continue
                held.succeeded()
            usage = response.usage_metadata
            tokens = (usage.total_token_count or 0) if usage is not None else 0
            return Reply(response.text or "", tokens)
        raise GeminiUnavailable(last)


@dataclass(frozen=True)
class Outcome:
    """A run's suggestions and how they came about."""

    drafts: list[Draft]
    written_by: str  # "model" when the model was used, else "template"
    dropped: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    fallback: str | None = None  # why templates wrote everything


async def suggest(
    findings: Sequence[Finding],
    gemini: Gemini | None,
    *,
    tokens_left: int,
    prompt_version: str,
) -> Outcome:
    """Suggestions for ``findings``: the model's grounded ones, templates for the rest; all
    from templates when there is no model, no budget left, or it fails."""
    alias = aliases(findings)
    if not findings:
        return Outcome([], "template")
    everything = [template(f, alias) for f in findings]
    if gemini is None:
        return Outcome(everything, "template", fallback="no_api_key")
    if tokens_left <= 0:
        return Outcome(everything, "template", fallback="token_budget")
    try:
        prompt = render_prompt(prompt_version, findings, alias)
        reply = await gemini.generate(prompt)
    except GeminiUnavailable as exc:
        return Outcome(everything, "template", fallback=exc.reason)
    except FileNotFoundError:
        return Outcome(everything, "template", fallback="no_prompt")
    grounded = ground(reply.text, findings, alias)
    drafts = complete(grounded.drafts, findings, alias)
    return Outcome(drafts, "model", dict(grounded.dropped), reply.tokens)


def build(settings: HealthSettings) -> Gemini | None:
    """The deployment's Gemini, or None without a key (templates only)."""
    return Gemini(settings) if settings.gemini_api_key is not None else None

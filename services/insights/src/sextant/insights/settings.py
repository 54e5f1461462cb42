"""Insights's own settings (prefix ``SEXTANT_INSIGHTS_``); shared ones live in RuntimeSettings."""

from functools import cache

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class InsightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INSIGHTS_", extra="ignore")

    reevaluations_per_batch: int = Field(
        default=50,
        ge=0,
        description="held-up gate questions a round of the derivation worker asks again at "
        "most, the most recently answered first (the rest when their repository's facts "
        "next move, or at their pipeline's retry); 0 turns re-evaluation from the event "
        "stream off",
    )
    day_keys_per_round: int = Field(
        default=20_000,
        ge=1,
        description="queued rows of one tenant the worker takes in one round from each of "
        "its queues: repositories to derive (each derived once however often it was "
        "queued) and (developer, day) keys to recompute (each once); derived columns and a "
        "day's figures lag their events by at most one round",
    )
    day_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often the DeveloperMetrics worker looks at its queue when no "
        "commit woke it (a wake-up lost with the listening connection)",
    )


@cache
def insights_settings() -> InsightsSettings:
    """The service's settings, read from the environment once (the consumers' handlers
    have no request to carry them)."""
    return InsightsSettings()


class HealthSettings(ServiceSettings):
    """Team-health suggestions: Gemini, its limits, the feedback loop and the schedule."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_INSIGHTS_HEALTH_", extra="ignore")

    gemini_api_key: SecretStr | None = Field(
        default=None,
        description="Gemini API key; empty (the default, and the embedded mode's): "
        "suggestions are written from the findings by templates and nothing is sent",
    )
    gemini_base_url: str | None = Field(
        default=None,
        description="where the Gemini API is (empty: the SDK's own endpoint); a proxy or, "
        "in tests, a fake server on loopback",
    )
    gemini_model: str = Field(default="gemini-2.5-pro", description="the Gemini model asked")
    gemini_timeout_seconds: float = Field(
        default=30.0, gt=0, description="how long one Gemini call may take"
    )
    gemini_attempts: int = Field(
        default=3, ge=1, le=10, description="calls per run at most (the first and retries)"
    )
    gemini_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        description="the first retry's wait, doubled each time; a 429's Retry-After wins "
        "when it says more",
    )
    gemini_max_backoff_seconds: float = Field(
        default=30.0, ge=0, description="the longest wait between two calls"
    )
    gemini_breaker_failures: int = Field(
        default=5,
        ge=1,
        description="consecutive failed calls that open the circuit breaker (templates only "
        "until it closes)",
    )
    gemini_breaker_cooldown_seconds: float = Field(
        default=300.0, gt=0, description="how long an open breaker waits before one probe"
    )
    daily_token_budget: int = Field(
        default=200_000,
        ge=0,
        description="Gemini tokens (prompt and reply, from usage_metadata) a tenant may "
        "spend a UTC day; beyond it the day's suggestions come from templates",
    )
    prompt_version: str = Field(
        default="v1", description="the prompt file used (health/prompts/<version>.txt)"
    )
    cooldown_days: int = Field(
        default=28,
        ge=0,
        description="days a rejected kind of suggestion is not made again for the same "
        "people and area",
    )
    schedule_enabled: bool = Field(
        default=True, description="run every workspace's suggestions once a week"
    )
    schedule_poll_seconds: float = Field(
        default=3600.0, gt=0, description="how often the scheduler looks for a run due"
    )

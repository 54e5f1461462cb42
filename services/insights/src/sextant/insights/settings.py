"""Insights's own settings (prefix ``SEXTANT_INSIGHTS_``); shared ones live in RuntimeSettings."""

from functools import cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class InsightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INSIGHTS_", extra="ignore")

    reevaluations_per_batch: int = Field(
        default=50,
        ge=0,
        description="held-up gate questions a consumer batch asks again at most, the most "
        "recently answered first (the rest when their repository's facts next move, or "
        "at their pipeline's retry); 0 turns re-evaluation from the event stream off",
    )


@cache
def insights_settings() -> InsightsSettings:
    """The service's settings, read from the environment once (the consumers' handlers
    have no request to carry them)."""
    return InsightsSettings()

"""Insights's own settings (prefix ``SEXTANT_INSIGHTS_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class InsightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INSIGHTS_", extra="ignore")

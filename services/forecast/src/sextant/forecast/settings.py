"""Forecast's own settings (prefix ``SEXTANT_FORECAST_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class ForecastSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_FORECAST_", extra="ignore")

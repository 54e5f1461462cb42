"""Reports's own settings (prefix ``SEXTANT_REPORTS_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class ReportsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_REPORTS_", extra="ignore")

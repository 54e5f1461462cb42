"""Ingest's own settings (prefix ``SEXTANT_INGEST_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INGEST_", extra="ignore")

"""Archive's own settings (prefix ``SEXTANT_ARCHIVE_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_ARCHIVE_", extra="ignore")

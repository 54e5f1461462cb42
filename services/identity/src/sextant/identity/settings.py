"""Identity's own settings (prefix ``SEXTANT_IDENTITY_``); shared ones live in RuntimeSettings."""

from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_IDENTITY_", extra="ignore")

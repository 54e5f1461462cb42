"""Ingest's own settings (prefix ``SEXTANT_INGEST_``); shared ones live in RuntimeSettings."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings

MIB = 1024 * 1024


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INGEST_", extra="ignore")

    secret_key: SecretStr | None = Field(
        default=None,
        description="base64 of 32 random bytes: encrypts source secrets and API credentials "
        "at rest; when unset, a key file under the data dir is made on first use (embedded)",
    )
    max_body_bytes: int = Field(default=25 * MIB, gt=0, description="larger deliveries get 413")
    max_in_flight: int = Field(
        default=256, gt=0, description="deliveries being accepted at once; beyond it, 429"
    )
    replay_window_seconds: int = Field(
        default=300, gt=0, description="generic (Standard Webhooks) timestamp tolerance"
    )
    public_base_url: str = Field(
        default="", description="prefix of the webhook URL handed out, e.g. https://sextant.example"
    )

"""Ingest's own settings (prefix ``SEXTANT_INGEST_``); shared ones live in RuntimeSettings."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings

MIB = 1024 * 1024


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_INGEST_", extra="ignore")

    secret_keys: SecretStr | None = Field(
        default=None,
        description="keys that seal source secrets and API credentials at rest, as "
        "`id:base64key,...` (each key 32 random bytes): the first seals, every one opens "
        "what it sealed; rotate by putting a new key first, running `sextant ingest "
        "reseal`, then removing the old one",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="the single key of before key ids (base64 of 32 random bytes), key id "
        "`k0`: current when SEXTANT_INGEST_SECRET_KEYS is unset, else kept to open what it "
        "sealed; when neither is set, a key file under the data dir is made on first use "
        "(embedded)",
    )
    max_body_bytes: int = Field(default=25 * MIB, gt=0, description="larger deliveries get 413")
    max_in_flight: int = Field(
        default=256, gt=0, description="deliveries being accepted at once; beyond it, 429"
    )
    replay_window_seconds: int = Field(
        default=300, gt=0, description="generic (Standard Webhooks) timestamp tolerance"
    )
    source_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a replica keeps a source for the webhook path; a change to "
        "its state (disabled, deleted, suspended) does not wait for it: every replica drops "
        "the source as the change commits",
    )
    source_change_wait_seconds: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="how long a suspension waits for every ingest replica to acknowledge "
        "it before answering (one that does not is logged)",
    )
    public_base_url: str = Field(
        default="", description="prefix of the webhook URL handed out, e.g. https://sextant.example"
    )

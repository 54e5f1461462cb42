"""Settings shared by every service (prefix ``SEXTANT_``) and the base for per-service ones.

The well-known variables ``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` and ``S3_ENDPOINT_URL``
are honoured as they are, because operators and CI set them for everything at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    """What the spine needs: database, bus, object store, keys, logging."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_", extra="ignore")

    data_dir: Path = Field(default=Path(".data"), description="embedded PostgreSQL, keys, objects")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_DATABASE_URL", "DATABASE_URL"),
        description="owner (migration) connection; the app connects as a per-service role",
    )
    app_role_password: SecretStr = Field(
        default=SecretStr("sextant-app"),
        description="password of the per-service application roles the runtime creates",
    )
    db_pool_size: int = 5
    migrate_on_start: bool = True

    bus: Literal["local", "kafka"] = "local"
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_enable_idempotence: bool = Field(
        default=False, description="true on real Kafka; tansu 0.6 rejects idempotent producers"
    )
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, gt=0)

    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SEXTANT_S3_ENDPOINT_URL", "S3_ENDPOINT_URL")
    )
    s3_bucket: str = "sextant"
    s3_region: str = "us-east-1"

    internal_token_public_key: str | None = Field(
        default=None, description="PEM of the gateway's Ed25519 key that signs internal tokens"
    )
    internal_token_private_key: SecretStr | None = Field(
        default=None, description="PEM of that key's private half; only the gateway holds it"
    )

    log_level: str = "INFO"
    log_json: bool = True


class ServiceSettings(BaseSettings):
    """Base of a service's own settings; subclasses set ``env_prefix=SEXTANT_<SERVICE>_``."""

    model_config = SettingsConfigDict(extra="ignore")

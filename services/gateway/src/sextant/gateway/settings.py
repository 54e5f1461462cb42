"""Gateway settings (prefix ``SEXTANT_GATEWAY_``); shared ones live in RuntimeSettings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_GATEWAY_", extra="ignore")

    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description='distributed mode: {"ingest": "http://ingest:8000", ...} (a JSON map)',
    )
    upstream_timeout_seconds: float = Field(default=2.0, gt=0)

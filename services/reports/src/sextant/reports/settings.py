"""Reports's own settings (prefix ``SEXTANT_REPORTS_``); shared ones live in RuntimeSettings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class ReportsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_REPORTS_", extra="ignore")

    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description='distributed mode: where the services reports read are, {"insights": '
        '"http://insights:8000", "forecast": "http://forecast:8000", "identity": '
        '"http://identity:8000", "gateway": "http://gateway:8000"} (a JSON map; the gateway '
        "for tenant names and the audit log); the embedded mode calls them in-process",
    )
    call_timeout_seconds: float = Field(
        default=30.0, gt=0, description="how long one call to another service may take"
    )
    worker_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="how often the render worker looks for queued reports (a report asked "
        "of this replica wakes it at once)",
    )
    render_lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="how long a worker holds a report it renders; a worker that died holding "
        "one leaves it to another after this",
    )
    schedule_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often the scheduler looks for schedules that fell due (a run is "
        "queued at most this late), expired files and the files of purged tenants",
    )
    file_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="days a rendered report's file is kept after it is done; then the file "
        "is deleted, the report hidden from the list, and its routes answer 410 (the "
        "archive's default for rendered_reports)",
    )
    logo_max_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="the largest logo (PNG or JPEG) a tenant may upload for its report covers",
    )

"""Archive's own settings (prefix ``SEXTANT_ARCHIVE_``); shared ones live in RuntimeSettings."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sextant.runtime.settings import ServiceSettings


class ArchiveSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_ARCHIVE_", extra="ignore")

    part_max_events: int = Field(
        default=50_000,
        ge=1,
        le=1_000_000,
        description="a (tenant, topic, day) partition is written to a part file once this "
        "many events wait, and a part holds at most this many",
    )
    direct_part_min_events: int = Field(
        default=5_000,
        ge=1,
        le=1_000_000,
        description="a consumer's batch that holds at least this many events of one "
        "(tenant, topic, day) writes them as a part of their own, verified before the batch "
        "commits, instead of staging each (smaller groups are staged, so a trickle still "
        "makes large parts)",
    )
    part_max_age_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a partition's waiting events are written once the oldest has waited "
        "this long, however few they are",
    )
    flush_check_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often the archive looks for partitions due to be written",
    )
    archived_ids_days: int = Field(
        default=400,
        ge=1,
        le=36500,
        description="days an archived event's id is kept (without its data) to recognise a "
        "redelivery; longer than any topic's retention (365 days)",
    )
    purge_check_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="how often the archive asks owners to purge hot rows whose cold copy "
        "verifies (past the hot period, under no legal hold)",
    )
    restore_check_seconds: float = Field(
        default=2.0,
        gt=0,
        description="how often the archive's restore worker looks for restores to run "
        "(a restore requested is taken at the next look)",
    )

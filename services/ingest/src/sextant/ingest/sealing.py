"""Ingest's keys: source secrets and API credentials are sealed with the runtime's
:class:`~sextant.runtime.sealing.SecretBox` under these settings."""

from __future__ import annotations

from pathlib import Path

from sextant.ingest.settings import IngestSettings
from sextant.runtime.sealing import KeySettings, SecretBox

INGEST_KEYS = KeySettings(
    keys="SEXTANT_INGEST_SECRET_KEYS",
    single_key="SEXTANT_INGEST_SECRET_KEY",
    key_file="ingest-secrets.key",
    service="ingest",
)


def secret_box(settings: IngestSettings, data_dir: Path, *, shared: bool) -> SecretBox:
    """The box ingest's settings configure (see :meth:`SecretBox.from_setting`)."""
    return SecretBox.from_setting(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        data_dir,
        shared=shared,
        keys=settings.secret_keys.get_secret_value() if settings.secret_keys else None,
        names=INGEST_KEYS,
    )

"""Building the bus and the object store a deployment asks for in its settings."""

from __future__ import annotations

from fastapi import FastAPI

from sextant.runtime.app import ServiceSpec, create_service_app
from sextant.runtime.bus.base import EventBus
from sextant.runtime.bus.kafka import KafkaBus
from sextant.runtime.bus.local import LocalBus
from sextant.runtime.db import plain_dsn
from sextant.runtime.objectstore import FolderObjectStore, ObjectStore, S3ObjectStore
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.topics import registry_plan


def create_bus(settings: RuntimeSettings) -> EventBus:
    """The local bus over PostgreSQL, or Kafka when ``bus=kafka``."""
    if settings.bus == "kafka":
        if not settings.kafka_bootstrap_servers:
            raise ValueError("bus=kafka needs KAFKA_BOOTSTRAP_SERVERS")
        return KafkaBus(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            topics=registry_plan(settings.kafka_partitions, settings.kafka_replication_factor),
            create_topics=settings.kafka_create_topics,
            client_options=settings.kafka_client_options(),
        )
    if settings.database_url is None:
        raise ValueError("the local bus needs DATABASE_URL")
    return LocalBus(
        plain_dsn(settings.database_url),
        partitions=settings.local_bus_partitions,
        retention_days=settings.local_bus_retention_days,
    )


def create_object_store(settings: RuntimeSettings) -> ObjectStore:
    """S3 when ``S3_ENDPOINT_URL`` is set, else a folder under the data directory."""
    if settings.s3_endpoint_url:
        return S3ObjectStore(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    return FolderObjectStore(settings.data_dir / "objects")


def standalone_app(spec: ServiceSpec, settings: RuntimeSettings | None = None) -> FastAPI:
    """A service on its own (the distributed mode): bus and object store from settings."""
    settings = settings or RuntimeSettings()
    resolved = settings
    return create_service_app(
        spec,
        resolved,
        bus_factory=lambda: create_bus(resolved),
        objects=create_object_store(resolved),
    )

"""Prometheus metrics, one registry per app so several apps can share a process.

Counters and histograms move as work happens; the spine's gauges (outbox backlog, consumer
lag, DLQ depth) are read from the database and the bus when ``/metrics`` is scraped
(:func:`sextant.runtime.app.refresh_spine_gauges`), so they cost nothing between scrapes.
The embedded mode's ``/metrics`` shows every in-process service, each sample labelled
with its ``service`` (:class:`ServicesCollector`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics_core import Metric

# Seconds from an event's commit to its publish: a few ms when the relay keeps up.
RELAY_DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class ServiceMetrics:
    registry: CollectorRegistry
    http_requests: Counter
    http_latency: Histogram
    events_handled: Counter
    events_dead_lettered: Counter
    outbox_published: Counter
    outbox_backlog: Gauge
    outbox_oldest_seconds: Gauge
    outbox_relay_delay: Histogram
    consumer_lag: Gauge
    dlq_depth: Gauge


def create_metrics(service: str) -> ServiceMetrics:
    """Build the standard metrics of a service in a fresh registry, which names the service."""
    registry = CollectorRegistry()
    Info("sextant_service", "which Sextant service this is", registry=registry).info(
        {"service": service}
    )
    return ServiceMetrics(
        registry=registry,
        http_requests=Counter(
            "sextant_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        ),
        http_latency=Histogram(
            "sextant_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        ),
        events_handled=Counter(
            "sextant_events_handled",
            "events whose effect committed",
            ["topic", "outcome"],
            registry=registry,
        ),
        events_dead_lettered=Counter(
            "sextant_events_dead_lettered", "events sent to a DLQ", ["topic"], registry=registry
        ),
        outbox_published=Counter(
            "sextant_outbox_published", "outbox rows published to the bus", registry=registry
        ),
        outbox_backlog=Gauge(
            "sextant_outbox_backlog",
            "outbox rows committed and not yet published (at the last scrape)",
            registry=registry,
        ),
        outbox_oldest_seconds=Gauge(
            "sextant_outbox_oldest_seconds",
            "age of the oldest unpublished outbox row, 0 when none (at the last scrape)",
            registry=registry,
        ),
        outbox_relay_delay=Histogram(
            "sextant_outbox_relay_delay_seconds",
            "time from an event's commit in the outbox to its publish on the bus",
            buckets=RELAY_DELAY_BUCKETS,
            registry=registry,
        ),
        consumer_lag=Gauge(
            "sextant_consumer_lag",
            "records on a consumed topic this service's group has not handled yet",
            ["topic"],
            registry=registry,
        ),
        dlq_depth=Gauge(
            "sextant_dlq_depth",
            "records in a consumed topic's dead-letter topic (<topic>.dlq)",
            ["topic"],
            registry=registry,
        ),
    )


class ServicesCollector:
    """Several services' registries as one exposition, each sample labelled ``service``
    (a family of the same name from every service becomes one family)."""

    def __init__(self, registries: Mapping[str, CollectorRegistry]) -> None:
        self._registries = dict(registries)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for service, registry in self._registries.items():
            for family in registry.collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = Metric(family.name, family.documentation, family.type, family.unit)
                    families[family.name] = merged
                for sample in family.samples:
                    labels = sample.labels
                    if "service" not in labels:
                        labels = {"service": service, **labels}
                    merged.samples.append(sample._replace(labels=labels))
        yield from families.values()

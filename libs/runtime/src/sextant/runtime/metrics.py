"""Prometheus metrics, one registry per app so several apps can share a process."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, Info


@dataclass(frozen=True)
class ServiceMetrics:
    registry: CollectorRegistry
    http_requests: Counter
    http_latency: Histogram
    events_handled: Counter
    events_dead_lettered: Counter
    outbox_published: Counter


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
    )

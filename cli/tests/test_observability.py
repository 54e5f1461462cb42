"""Observability of the whole platform as `sextant run` assembles it: one webhook's trace
through every service it reaches (OpenTelemetry's in-memory exporter), and the embedded
``/metrics`` showing every service's spine — outbox backlog, relay delay, consumer lag,
DLQ depth — and the gateway's requests by route template."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from sextant.cli.testing import Platform, eventually, running_platform
from sextant.runtime.bus.base import OutgoingRecord
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.tracing import TraceExport

USER = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Ada Lovelace"}


def jira_created(key: str) -> dict[str, Any]:
    """A Jira ``issue_created`` delivery: one activity event at ingest."""
    return {
        "timestamp": 1_780_000_000_000,
        "webhookEvent": "jira:issue_created",
        "user": USER,
        "issue": {
            "id": key.split("-")[1],
            "key": key,
            "self": f"https://jira.example.org/rest/api/2/issue/{key}",
            "fields": {
                "summary": "Export the dashboard",
                "issuetype": {"name": "Story"},
                "project": {"key": "ENG"},
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                "assignee": USER,
                "reporter": USER,
                "created": "2026-11-20T09:00:00+00:00",
            },
        },
    }


async def jira_source(platform: Platform) -> dict[str, Any]:
    tenant = await platform.tenant("Acme")
    admin = platform.headers("tenant_admin", tenant)
    reply = await platform.client.post("/v1/workspaces", json={"name": "eng"}, headers=admin)
    workspace = reply.json()["id"]
    source: dict[str, Any] = (
        await platform.client.post(
            f"/v1/workspaces/{workspace}/sources",
            json={"kind": "jira", "name": "ENG"},
            headers=admin,
        )
    ).json()
    return source


async def send_hook(platform: Platform, source: dict[str, Any], key: str) -> None:
    body = json.dumps(jira_created(key)).encode()
    digest = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    reply = await platform.client.post(
        f"/v1/hooks/{source['id']}",
        content=body,
        headers={
            "content-type": "application/json",
            "x-hub-signature": f"sha256={digest}",
            "x-atlassian-webhook-identifier": f"delivery-{key}",
        },
    )
    assert reply.status_code == 202, reply.text


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"]).removeprefix("sextant-")


def the_one(spans: list[ReadableSpan], service: str, kind: SpanKind, name: str) -> ReadableSpan:
    found = [s for s in spans if service_of(s) == service and s.kind == kind and s.name == name]
    assert len(found) == 1, [(service_of(s), s.kind, s.name) for s in spans]
    return found[0]


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


async def test_one_webhook_is_one_trace_through_gateway_ingest_identity_and_forecast(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    export = TraceExport((SimpleSpanProcessor(exporter),))
    async with running_platform(
        database_url, internal_keys, tmp_path, trace_export=export
    ) as platform:
        source = await jira_source(platform)
        exporter.clear()  # the set-up's own traces
        await send_hook(platform, source, "ENG-7")
        [edge] = [
            s
            for s in exporter.get_finished_spans()
            if service_of(s) == "gateway" and s.name == "POST /v1/hooks/{source_id}"
        ]
        trace_id = edge.context.trace_id

        def in_trace() -> list[ReadableSpan]:
            return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]

        async def reached_forecast() -> list[ReadableSpan] | None:
            spans = in_trace()
            return spans if any(service_of(s) == "forecast" for s in spans) else None

        spans = await eventually(reached_forecast)

    assert edge.parent is None  # the webhook's sender gave no traceparent: a new trace
    assert edge.kind == SpanKind.SERVER
    call = the_one(spans, "gateway", SpanKind.CLIENT, "POST")
    ingest = the_one(spans, "ingest", SpanKind.SERVER, "POST /v1/hooks/{source_id}")
    created = "process sextant.activity.work_item.created.v1"
    identity = the_one(spans, "identity", SpanKind.CONSUMER, created)
    forecast = the_one(
        spans, "forecast", SpanKind.CONSUMER, "process sextant.activity.attributed.v1"
    )
    assert child_of(call, edge) and call.attributes["url.path"] == f"/v1/hooks/{source['id']}"
    assert child_of(ingest, call) and ingest.attributes["http.response.status_code"] == 202
    assert child_of(identity, ingest)  # an event's handling is a child of what staged it
    assert child_of(forecast, identity)
    # every span of the trace hangs off the webhook's: no orphan, no second root
    ids = {s.context.span_id for s in spans}
    assert [s for s in spans if s.parent is None] == [edge]
    assert all(s.parent.span_id in ids for s in spans if s.parent is not None)


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample called ``name`` in an exposition, by its label set."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text, name).get(frozenset(labels.items()))


async def test_embedded_metrics_show_every_service_its_backlog_lag_and_dead_letters(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:

        async def scrape() -> str:
            reply = await platform.client.get("/metrics")
            assert reply.status_code == 200, reply.text
            return reply.text

        source = await jira_source(platform)
        text = await scrape()
        for service in ("gateway", "ingest", "identity", "forecast", "insights", "archive"):
            assert value(text, "sextant_service_info", service=service) == 1.0, service
        # requests by route template: the proxied create-a-source is counted under its
        # pattern, not under the catch-all or the path with its ids
        assert (
            value(
                text,
                "sextant_http_requests_total",
                service="gateway",
                method="POST",
                route="/v1/workspaces/{workspace_id}/sources",
                status="201",
            )
            == 1.0
        )
        assert not [
            labels
            for labels in samples(text, "sextant_http_requests_total")
            if dict(labels)["route"].endswith(source["id"])
        ]

        # outbox backlog: ingest's relay held back, three deliveries wait; let go, none
        ingest = platform.apps["ingest"].state.service
        assert ingest.relay is not None

        async def published() -> tuple[float] | None:  # the set-up's events are out
            text = await scrape()
            waiting = value(text, "sextant_outbox_backlog", service="ingest")
            count = value(text, "sextant_outbox_relay_delay_seconds_count", service="ingest")
            return (count or 0.0,) if waiting == 0 else None

        [before] = await eventually(published)
        await ingest.relay.stop()
        for n in (1, 2, 3):
            await send_hook(platform, source, f"ENG-{n}")
        text = await scrape()
        assert value(text, "sextant_outbox_backlog", service="ingest") == 3.0
        assert (value(text, "sextant_outbox_oldest_seconds", service="ingest") or 0) > 0
        await ingest.relay.start()

        async def drained() -> str | None:
            text = await scrape()
            waiting = value(text, "sextant_outbox_backlog", service="ingest")
            lag = value(text, "sextant_consumer_lag", service="identity", topic="sextant.activity")
            return text if waiting == 0 and lag == 0 else None

        text = await eventually(drained)
        assert value(text, "sextant_outbox_oldest_seconds", service="ingest") == 0.0
        count = value(text, "sextant_outbox_relay_delay_seconds_count", service="ingest")
        assert count == before + 3
        assert value(text, "sextant_dlq_depth", service="identity", topic="sextant.activity") == 0.0

        # a poison record on sextant.activity: identity, archive and the gateway (the last two
        # consume every topic: the cold store, partner subscriptions) each dead-letter their
        # copy, so sextant.activity.dlq holds three
        bus = ingest.bus
        await bus.publish([OutgoingRecord("sextant.activity", "x/-/poison", (), b"not an event")])

        async def dead_lettered() -> str | None:
            text = await scrape()
            depth = value(text, "sextant_dlq_depth", service="identity", topic="sextant.activity")
            return text if depth == 3.0 else None

        text = await eventually(dead_lettered)
        assert value(text, "sextant_dlq_depth", service="archive", topic="sextant.activity") == 3.0

        # consumer lag: identity stopped, two more deliveries wait for it on activity
        identity = platform.apps["identity"].state.service
        assert identity.processor is not None
        await identity.processor.stop()
        for n in (4, 5):
            await send_hook(platform, source, f"ENG-{n}")

        async def lagging() -> str | None:
            text = await scrape()
            lag = value(text, "sextant_consumer_lag", service="identity", topic="sextant.activity")
            return text if lag == 2.0 else None

        await eventually(lagging)

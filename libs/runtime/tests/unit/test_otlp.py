"""The byte-by-byte OTLP encoder says what the exporter's own encoder says, for every shape
of span the runtime makes (and the SDK's, which carry bounded attributes and trace state);
spans recorded by the runtime's tracer reach a collector on loopback through the OTLP
exporter the settings build; sampling is the SDK's parent-based trace-id ratio."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as exporters_encoding,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.trace.status import StatusCode

from sextant.runtime.otlp import encode_spans
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tracing import TraceExport, end_span, start_span, traceparent_of

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNSAMPLED_CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
OTHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def runtime_spans() -> list[ReadableSpan]:
    """The runtime's spans: a server span under a caller, a relay span with links, a
    failed consumer span, from two services (two resources)."""
    exporter = InMemorySpanExporter()
    export = TraceExport((SimpleSpanProcessor(exporter),))
    ingest, identity = export.tracer("ingest"), export.tracer("identity")
    server = start_span(
        ingest,
        "POST",
        kind=SpanKind.SERVER,
        parent=CALLER,
        attributes={"http.request.method": "POST", "url.path": "/v1/hooks/7"},
    )
    server.update_name("POST /v1/hooks/{source_id}")
    server.set_attributes({"http.route": "/v1/hooks/{source_id}", "http.response.status_code": 202})
    end_span(server)
    server.set_attribute("after.end", True)  # changes nothing already finished
    relay = start_span(
        ingest,
        "outbox publish",
        kind=SpanKind.PRODUCER,
        parent=None,
        attributes={"messaging.batch.message_count": 3},
        links=[traceparent_of(server), None, OTHER],
    )
    end_span(relay)
    consumer = start_span(
        identity,
        "process sextant.activity.work_item.created.v1",
        kind=SpanKind.CONSUMER,
        parent=traceparent_of(server),
        attributes={"ratio": 0.25, "retried": True, "offset": -1, "tags": ("a", "b")},
    )
    end_span(consumer, ValueError("the author is unknown"))
    return list(exporter.get_finished_spans())


def sdk_spans() -> list[ReadableSpan]:
    """Spans of the SDK's own tracer: bounded attributes, trace state, an event, a status
    with no description, an instrumentation scope with a version."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("sdk.scope", "1.2.3")
    linked = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "x")]),
    )
    with tracer.start_as_current_span(
        "outer", links=[Link(linked, {"why": "cause", "n": 2})], attributes={"big": 2**40}
    ) as span:
        span.add_event("checkpoint", {"step": 1})
        span.set_status(StatusCode.OK)
        with tracer.start_as_current_span("inner", kind=SpanKind.CLIENT):
            pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


@pytest.mark.parametrize("made_by", [runtime_spans, sdk_spans])
def test_the_encoding_is_the_exporters_message_for_message(made_by: object) -> None:
    spans = made_by()  # type: ignore[operator]
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    theirs = ExportTraceServiceRequest.FromString(
        exporters_encoding(spans).SerializePartialToString()
    )
    assert ours == theirs
    assert sum(len(s.spans) for r in ours.resource_spans for s in r.scope_spans) == len(spans)


def test_a_runtime_span_encodes_the_ids_parent_links_and_failure_it_was_given() -> None:
    spans = runtime_spans()
    request = ExportTraceServiceRequest.FromString(encode_spans(spans))
    ingest, identity = request.resource_spans
    assert {kv.key: kv.value.string_value for kv in ingest.resource.attributes}[
        "service.name"
    ] == "sextant-ingest"
    server, relay = ingest.scope_spans[0].spans
    assert server.name == "POST /v1/hooks/{source_id}"
    assert server.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server.parent_span_id.hex() == "00f067aa0ba902b7"
    assert server.kind == 2  # SPAN_KIND_SERVER in the protocol (the API's SERVER is 1)
    assert server.flags == 0x300  # its parent is remote, and the flags say so
    assert "after.end" not in {kv.key for kv in server.attributes}
    assert [link.span_id for link in relay.links] == [
        server.span_id,
        bytes.fromhex("b7ad6b7169203331"),
    ]  # the traceparent naming no span is no link
    [failed] = identity.scope_spans[0].spans
    assert failed.parent_span_id == server.span_id
    assert failed.status.code == 2 and failed.status.message == "ValueError"
    [event] = failed.events
    attributes = {kv.key: kv.value for kv in event.attributes}
    assert attributes["exception.message"].string_value == "the author is unknown"
    assert {kv.key: kv.value.int_value for kv in failed.attributes}["offset"] == -1


def test_sampling_follows_the_caller_and_else_the_ratio() -> None:
    exporter = InMemorySpanExporter()
    tracer = TraceExport((SimpleSpanProcessor(exporter),), sample_ratio=0.0).tracer("ingest")
    new = start_span(tracer, "GET", kind=SpanKind.SERVER, parent=None)
    assert isinstance(new, NonRecordingSpan) and not new.is_recording()
    assert traceparent_of(new).endswith("-00")  # what it calls will not sample either
    declined = start_span(tracer, "GET", kind=SpanKind.SERVER, parent=UNSAMPLED_CALLER)
    assert traceparent_of(declined).startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    end_span(new)
    end_span(declined)
    assert exporter.get_finished_spans() == ()
    kept = start_span(tracer, "GET", kind=SpanKind.SERVER, parent=CALLER)  # the caller's say
    end_span(kept)
    [span] = exporter.get_finished_spans()
    assert span.context is not None and span.context.trace_flags.sampled


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """An OTLP/HTTP traces endpoint on loopback keeping every request it decodes."""
    received: list[ExportTraceServiceRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(ExportTraceServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_spans_reach_the_configured_collector(
    monkeypatch: pytest.MonkeyPatch, collector: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    url, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    export = TraceExport.from_settings(RuntimeSettings())
    assert export is not None
    span = start_span(
        export.tracer("ingest"), "outbox publish", kind=SpanKind.PRODUCER, parent=None
    )
    end_span(span)
    export.shutdown()  # flushes the batch
    [request] = received
    [sent] = request.resource_spans[0].scope_spans[0].spans
    assert sent.name == "outbox publish"
    assert f"00-{sent.trace_id.hex()}-{sent.span_id.hex()}-01" == traceparent_of(span)

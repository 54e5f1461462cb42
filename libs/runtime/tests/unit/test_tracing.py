"""A request's server span: a child of the caller's traceparent, named by its route
template, the span whose ids the request's log lines carry; with tracing off, no span and
the caller's ids passed on as before."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sextant.runtime.app import RequestContext
from sextant.runtime.logging import configure_logging
from sextant.runtime.metrics import create_metrics
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tracing import TraceExport, Tracer, traces_url

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def item(request: Request) -> JSONResponse:
    structlog.get_logger().info("item.read", item=request.path_params["item_id"])
    return JSONResponse({"traceparent": request.headers.get("traceparent")})


async def get_item(tracer: Tracer | None, headers: dict[str, str]) -> httpx.Response:
    app = RequestContext(
        Starlette(routes=[Route("/items/{item_id}", item)]), create_metrics("test"), tracer
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/items/42", headers=headers)


def last_log_line(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    line: dict[str, str] = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    return line


async def test_a_request_is_a_server_span_under_its_callers_and_its_logs_name_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    exporter = InMemorySpanExporter()
    tracer = TraceExport((SimpleSpanProcessor(exporter),)).tracer("identity")
    reply = await get_item(tracer, {"traceparent": CALLER})
    assert reply.status_code == 200
    [span] = exporter.get_finished_spans()
    assert span.name == "GET /items/{item_id}"  # the template: one series for every item
    assert span.kind == SpanKind.SERVER
    assert span.resource.attributes["service.name"] == "sextant-identity"
    assert span.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736  # the caller's trace
    assert span.parent is not None and span.parent.span_id == 0x00F067AA0BA902B7
    assert span.attributes["http.response.status_code"] == 200
    line = last_log_line(capsys)
    assert line["event"] == "item.read"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == f"{span.context.span_id:016x}" != "00f067aa0ba902b7"


async def test_with_tracing_off_the_callers_ids_are_logged_as_they_came(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    reply = await get_item(None, {"traceparent": CALLER})
    assert reply.status_code == 200
    line = last_log_line(capsys)
    assert line["traceparent"] == CALLER
    assert (line["trace_id"], line["span_id"]) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
    )


def test_tracing_is_off_unless_an_otlp_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("SEXTANT_TRACING_OTLP_ENDPOINT", raising=False)
    assert TraceExport.from_settings(RuntimeSettings()) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    export = TraceExport.from_settings(RuntimeSettings())
    assert export is not None
    [processor] = export.processors
    assert isinstance(processor, BatchSpanProcessor)  # spans leave off the request's path
    export.shutdown()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces"),
    ],
)
def test_the_traces_url_of_an_endpoint(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


async def test_a_request_not_sampled_records_nothing_and_hands_the_decision_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    exporter = InMemorySpanExporter()
    tracer = TraceExport((SimpleSpanProcessor(exporter),), sample_ratio=0.0).tracer("ingest")
    reply = await get_item(tracer, {})
    assert reply.status_code == 200
    assert exporter.get_finished_spans() == ()
    line = last_log_line(capsys)
    # a new trace, flagged not sampled, so what this request calls or stages records nothing
    assert line["traceparent"].endswith("-00") and line["trace_id"] != "0" * 32

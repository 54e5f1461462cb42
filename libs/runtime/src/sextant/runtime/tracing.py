"""OpenTelemetry tracing: one trace from a webhook through every service it reaches.

Off by default: with no exporter a service has no tracer, and every hook below is a
``None`` check. On (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``SEXTANT_TRACING_OTLP_ENDPOINT``),
each service gets its own ``TracerProvider`` (its resource names the service, so the
embedded mode's seven services show as seven) over one shared export pipeline.

The trace context travels the way it already did without tracing: the W3C
``traceparent`` bound in the task's log context (:mod:`sextant.runtime.logging`). A span
takes its parent from it and binds its own in its place, so what the code already
propagates — the gateway's forwarded header, an event staged in the outbox (its envelope's
``traceparent``, a ``ce_traceparent`` header on Kafka) — carries the span's context with no
OpenTelemetry context attached or detached anywhere:

- HTTP server span per request (:class:`~sextant.runtime.app.RequestContext`), a child
  of the caller's ``traceparent``;
- HTTP client span per outbound httpx request (:class:`TracedTransport`), whose context
  replaces the request's ``traceparent`` header;
- an event staged in the outbox carries the ``traceparent`` of the span that staged it
  (the request's, or the event's handling that caused it): no span of its own, which
  would double the spans of the webhook path for no information (see the bench);
- a relay span per published outbox batch, linked to the events it publishes;
- consumer spans: per event, a **child** of the span that staged the event (one event
  causes one effect, and a child keeps webhook → ingest → identity → forecast one trace,
  which a link would split into one trace per hop); per batch, a span **linked** to
  every event in it (a batch has many parents, a span only one), with each event's own
  child span inside the handler (:func:`~sextant.runtime.consumer.each_in_context`).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import islice

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from sextant.runtime.settings import RuntimeSettings

Tracer = trace.Tracer

# A span keeps this many links (the SDK's default limit): a relay batch of 500 events
# builds no more than it keeps.
LINKS_KEPT = 128

# The tracer of the service whose code runs in this task (set by its request context and
# consumer): an outbound call or a staged event is that service's span.
current_tracer: ContextVar[Tracer | None] = ContextVar("sextant_tracer", default=None)


@dataclass(frozen=True)
class TraceExport:
    """Where finished spans go: shared by every service of a process (one exporter, one
    connection, one background thread), each service with its own provider."""

    processors: tuple[SpanProcessor, ...]
    sample_ratio: float = 1.0

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> TraceExport | None:
        """OTLP over http/protobuf when an endpoint is set; None (tracing off) otherwise."""
        endpoint = settings.tracing_otlp_endpoint
        if not endpoint:
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=traces_url(endpoint))
        return cls((BatchSpanProcessor(exporter),), settings.tracing_sample_ratio)

    def tracer(self, service: str) -> Tracer:
        """A tracer whose spans name ``service`` (resource ``service.name``)."""
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": f"sextant-{service}", "service.namespace": "sextant"}
            ),
            sampler=ParentBased(TraceIdRatioBased(self.sample_ratio)),
            shutdown_on_exit=False,  # the processors are shared: :meth:`shutdown` ends them
        )
        for processor in self.processors:
            provider.add_span_processor(processor)
        return provider.get_tracer("sextant.runtime")

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        for processor in self.processors:
            processor.shutdown()


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a base endpoint (the spec's ``/v1/traces`` suffix)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def parent_context(traceparent: str | None) -> Context | None:
    """The W3C ``traceparent`` as a parent (None: a new trace)."""
    span_context = _span_context(traceparent)
    if span_context is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(span_context), Context())


def _span_context(traceparent: str | None) -> SpanContext | None:
    """The span a W3C ``traceparent`` names; None when it names none. It was checked
    where it came in (the request context's pattern, or our own formatting)."""
    if not traceparent or len(traceparent) != 55:
        return None
    try:
        span_context = SpanContext(
            trace_id=int(traceparent[3:35], 16),
            span_id=int(traceparent[36:52], 16),
            is_remote=True,
            trace_flags=TraceFlags(int(traceparent[53:55], 16)),
        )
    except ValueError:
        return None
    return span_context if span_context.is_valid else None


def link_to(traceparent: str | None) -> Link | None:
    """A link to the span named by ``traceparent``, when it names one."""
    span_context = _span_context(traceparent)
    return Link(span_context) if span_context is not None else None


def traceparent_of(span: Span) -> str:
    """``span``'s context as a W3C ``traceparent``."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def start_span(
    tracer: Tracer,
    name: str,
    *,
    kind: SpanKind,
    parent: str | None,
    attributes: dict[str, str | int] | None = None,
    links: Iterable[str | None] = (),
) -> Span:
    """A span under ``parent`` (a ``traceparent``), linked to the first ``LINKS_KEPT``
    of ``links`` that name a span."""
    return tracer.start_span(
        name,
        context=parent_context(parent) or Context(),
        kind=kind,
        attributes=attributes,
        links=list(islice(filter(None, map(link_to, links)), LINKS_KEPT)),
    )


def end_span(span: Span, error: BaseException | None = None, *, failed: bool = False) -> None:
    """End ``span``, marked failed by ``error`` (recorded) or by ``failed``."""
    if error is not None:
        span.record_exception(error)
    if error is not None or failed:
        span.set_status(Status(StatusCode.ERROR, type(error).__name__ if error else None))
    span.end()


class TracedTransport(httpx.AsyncBaseTransport):
    """An httpx transport with a client span per request, when the calling service traces:
    the span's context replaces the request's ``traceparent``, so the service called
    parents its server span on this one."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tracer = current_tracer.get()
        if tracer is None:
            return await self._inner.handle_async_request(request)
        span = start_span(
            tracer,
            request.method,
            kind=SpanKind.CLIENT,
            parent=request.headers.get("traceparent"),
            attributes={
                "http.request.method": request.method,
                "server.address": request.url.host,
                "url.path": request.url.path,
            },
        )
        request.headers["traceparent"] = traceparent_of(span)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            end_span(span, exc)
            raise
        span.set_attribute("http.response.status_code", response.status_code)
        # Ended at the reply's head: reading a streamed body is the caller's time.
        end_span(span, failed=response.status_code >= 500)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

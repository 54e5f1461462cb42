"""OpenTelemetry tracing: one trace from a webhook through every service it reaches.

Off by default: with no exporter a service has no tracer, and every hook below is a
``None`` check. On (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``SEXTANT_TRACING_OTLP_ENDPOINT``),
each service gets its own :class:`Tracer` (its resource names the service, so the
embedded mode's seven services show as seven) over one shared export pipeline: the SDK's
``BatchSpanProcessor`` and OTLP exporter, with the runtime's encoder
(:mod:`sextant.runtime.otlp`). The tracer is the runtime's own, not the SDK's: the SDK's
general path cost more per request than ingest's accept route itself (see the bench);
this one records the same spans (the SDK's ``ReadableSpan``) with the same sampling, and a
request not sampled builds no span object, only its ids.

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

import random
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import islice
from typing import Any, cast

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
)
from opentelemetry.trace.status import Status, StatusCode

from sextant.runtime.settings import RuntimeSettings

# A span keeps this many links (the SDK's default limit): a relay batch of 500 events
# builds no more than it keeps.
LINKS_KEPT = 128

_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)
_TRACE_ID_LOW = (1 << 64) - 1  # the part of a trace id the ratio sampler decides on


class Tracer:
    """A service's span recorder: what the SDK's tracer does for the spans the runtime
    makes, at a tenth of its cost on the request path (the SDK's general path — context
    objects, sampler and processor chains, locked bounded attributes, a span object of
    twenty fields — cost more per request than ingest's accept route itself; see the
    bench). Same sampling (parent-based, new traces by trace-id ratio), same finished
    spans: the SDK's ``ReadableSpan``, handed to SDK span processors and exporters."""

    def __init__(
        self,
        resource: Resource,
        processors: Sequence[SpanProcessor],
        sample_ratio: float = 1.0,
    ) -> None:
        self.resource = resource
        self.scope = InstrumentationScope("sextant.runtime")
        self.processors = tuple(processors)
        self._bound = TraceIdRatioBased.get_bound_for_rate(sample_ratio)

    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind,
        parent: SpanContext | None,
        attributes: dict[str, Any] | None = None,
        links: Sequence[Link] = (),
    ) -> Span:
        """A span under ``parent`` (None: a new trace); one that is not sampled records
        nothing and costs its ids."""
        span_id = random.getrandbits(64) or 1
        if parent is not None:
            trace_id, sampled = parent.trace_id, parent.trace_flags.sampled
        else:
            trace_id = random.getrandbits(128) or 1
            sampled = trace_id & _TRACE_ID_LOW < self._bound
        if not sampled:
            return UnsampledSpan(trace_id, span_id)
        return RecordedSpan(self, name, kind, trace_id, span_id, parent, attributes, links)


class RecordedSpan(Span):
    """A sampled span of a :class:`Tracer`: plain fields while it runs, one SDK
    ``ReadableSpan`` for the processors when it ends."""

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        kind: SpanKind,
        trace_id: int,
        span_id: int,
        parent: SpanContext | None,
        attributes: dict[str, Any] | None,
        links: Sequence[Link],
    ) -> None:
        self._tracer, self._name, self._kind, self._parent = tracer, name, kind, parent
        self._context = SpanContext(trace_id, span_id, False, _SAMPLED)
        self.traceparent = f"00-{trace_id:032x}-{span_id:016x}-01"
        self._attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self._links = links
        self._events: list[Event] = []
        self._status = _UNSET
        self._start = time.time_ns()
        self._ended = False

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._ended

    def update_name(self, name: str) -> None:
        self._name = name

    def set_attribute(self, key: str, value: Any) -> None:
        self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
    ) -> None:
        self._events.append(Event(name, attributes, timestamp))

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        stacktrace = "".join(
            traceback.format_exception(type(exception), exception, exception.__traceback__)
        )
        self.add_event(
            "exception",
            {
                "exception.type": type(exception).__name__,
                "exception.message": str(exception),
                "exception.stacktrace": stacktrace,
                "exception.escaped": str(escaped),
                **(attributes or {}),
            },
            timestamp,
        )

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        tracer = self._tracer
        # the finished span keeps the attributes; a late set_attribute writes elsewhere
        attributes, self._attributes = self._attributes, {}
        finished = ReadableSpan(
            self._name,
            self._context,
            self._parent,
            tracer.resource,
            attributes,
            tuple(self._events),
            self._links,
            self._kind,
            None,
            self._status,
            self._start,
            end_time or time.time_ns(),
            tracer.scope,
        )
        for processor in tracer.processors:
            processor.on_end(finished)


class UnsampledSpan(NonRecordingSpan):
    """A span not sampled: its ids and flags 00 for what it calls and stages to carry on
    (so they record nothing either), and nothing else built."""

    def __init__(self, trace_id: int, span_id: int) -> None:
        self._ids = (trace_id, span_id)
        self.traceparent = f"00-{trace_id:032x}-{span_id:016x}-00"

    @property
    def _context(self) -> SpanContext:  # type: ignore[override]
        return SpanContext(*self._ids, False, _NOT_SAMPLED)

    def get_span_context(self) -> SpanContext:
        return self._context


_OWN_SPANS = frozenset((RecordedSpan, UnsampledSpan))

# The tracer of the service whose code runs in this task (set by its request context and
# consumer): an outbound call or a staged event is that service's span.
current_tracer: ContextVar[Tracer | None] = ContextVar("sextant_tracer", default=None)


@dataclass(frozen=True)
class TraceExport:
    """Where finished spans go: shared by every service of a process (one exporter, one
    connection, one background thread), each service with its own tracer."""

    processors: tuple[SpanProcessor, ...]
    sample_ratio: float = 1.0

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> TraceExport | None:
        """OTLP over http/protobuf when an endpoint is set; None (tracing off) otherwise.
        The batch processor's thread encodes and sends, off the request's path (but not
        off its core: that thread shares the process's GIL and CPU, hence the cheap
        encoder)."""
        endpoint = settings.tracing_otlp_endpoint
        if not endpoint:
            return None
        from sextant.runtime.otlp import OtlpSpanExporter

        exporter = OtlpSpanExporter(endpoint=traces_url(endpoint))
        return cls((BatchSpanProcessor(exporter),), settings.tracing_sample_ratio)

    def tracer(self, service: str) -> Tracer:
        """A tracer whose spans name ``service`` (resource ``service.name``)."""
        resource = Resource.create(
            {"service.name": f"sextant-{service}", "service.namespace": "sextant"}
        )
        return Tracer(resource, self.processors, self.sample_ratio)

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        for processor in self.processors:
            processor.shutdown()


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a base endpoint (the spec's ``/v1/traces`` suffix)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


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
    if type(span) in _OWN_SPANS:  # theirs formatted once (an isinstance on an ABC is slow)
        return cast(RecordedSpan | UnsampledSpan, span).traceparent
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def start_span(
    tracer: Tracer,
    name: str,
    *,
    kind: SpanKind,
    parent: str | None,
    attributes: dict[str, Any] | None = None,
    links: Iterable[str | None] = (),
) -> Span:
    """A span under ``parent`` (a ``traceparent``), linked to the first ``LINKS_KEPT``
    of ``links`` that name a span."""
    return tracer.start_span(
        name,
        kind=kind,
        parent=_span_context(parent),
        attributes=attributes,
        links=list(islice(filter(None, map(link_to, links)), LINKS_KEPT)) if links else (),
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

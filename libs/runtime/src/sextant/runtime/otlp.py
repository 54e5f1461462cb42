"""OTLP/protobuf encoding of finished spans, written byte by byte.

The exporter's own encoder builds a protobuf message object per span, attribute and value
and then serialises them: about 45 µs a span, as much as recording the span, and on the
serving process's core (the batch processor's thread shares the GIL and the CPU). This one
writes the ``ExportTraceServiceRequest`` wire format directly, with the parts that repeat
(a service's resource and scope, an attribute seen before) encoded once; a test holds it
to the exporter's encoder, message for message.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext

_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack
_SMALL = [bytes((n,)) for n in range(128)]
# A span's fixed-size fields written at once: trace and span ids (tag, length, big-endian
# bytes), the parent's id, kind with start and end times (varint kind < 128, fixed64s).
_IDS = struct.Struct(">BBQQBBQ").pack
_PARENT = struct.Struct(">BBQ").pack
_TIMES = struct.Struct("<BBBQBQ").pack
_INT64 = (1 << 64) - 1
_SCALARS = frozenset((str, int, bool, float, bytes))

# The spec's span flags: bit 8 says bit 9 is meaningful, bit 9 that the parent is remote.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200

# An attribute's encoding is kept once seen (routes, methods, topics repeat); a bounded
# table, emptied when full rather than grown without end by unique values.
_ATTRIBUTES_KEPT = 4096
_attribute_cache: dict[tuple[bytes, str, type, Any], bytes] = {}
# By identity: a resource hashes by serialising its attributes to JSON, every time.
_resource_cache: dict[int, tuple[Resource, bytes]] = {}
_names: dict[str, bytes] = {}
_scope_cache: dict[int, tuple[InstrumentationScope | None, bytes]] = {}


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length, the payload."""
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message's content."""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _delimited(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value & _INT64)
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return _delimited(b"\x3a", value)
    if isinstance(value, Sequence):
        return _delimited(b"\x2a", b"".join(_delimited(b"\x0a", _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _delimited(b"\x32", _key_values(b"\x0a", value))
    if value is None:
        return b""
    raise TypeError(f"an attribute of type {type(value).__name__} cannot be encoded")


def _key_value(tag: bytes, key: str, value: Any) -> bytes:
    """A ``KeyValue`` field under ``tag``, its encoding kept when its value is a scalar."""
    cacheable = type(value) in _SCALARS
    if cacheable:
        cache_key = (tag, key, type(value), value)
        found = _attribute_cache.get(cache_key)
        if found is not None:
            return found
    encoded = _delimited(
        tag, _delimited(b"\x0a", key.encode()) + _delimited(b"\x12", _any_value(value))
    )
    if cacheable:
        if len(_attribute_cache) >= _ATTRIBUTES_KEPT:
            _attribute_cache.clear()
        _attribute_cache[cache_key] = encoded
    return encoded


def _key_values(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Each attribute as a ``KeyValue`` field under ``tag``."""
    if not attributes:
        return b""
    return b"".join([_key_value(tag, k, v) for k, v in attributes.items()])


_LOCAL_PARENT = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE)  # field 16, fixed32
_REMOTE_PARENT = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE | _IS_REMOTE)


def _flags(parent: SpanContext | None) -> bytes:
    return _fixed32(
        _HAS_IS_REMOTE | _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE
    )


def _trace_state(context: SpanContext) -> str:
    return ",".join(f"{key}={value}" for key, value in context.trace_state.items())


def _event(event: Event) -> bytes:
    dropped = event.dropped_attributes
    return (
        b"\x09"
        + _fixed64(event.timestamp)
        + _delimited(b"\x12", event.name.encode())
        + _key_values(b"\x1a", event.attributes)
        + (b"\x20" + _varint(dropped) if dropped else b"")
    )


def _link(link: Link) -> bytes:
    """A ``Link`` message's content; like the exporter's, without the linked trace state."""
    context = link.context
    dropped = link.dropped_attributes
    return (
        b"\x0a\x10"
        + context.trace_id.to_bytes(16, "big")
        + b"\x12\x08"
        + context.span_id.to_bytes(8, "big")
        + _key_values(b"\x22", link.attributes)
        + (b"\x28" + _varint(dropped) if dropped else b"")
        + b"\x35"
        + _flags(context)
    )


def _span(span: ReadableSpan) -> bytes:
    """A ``Span`` message's content."""
    context = span.context
    assert context is not None, "a finished span has a context"
    parent = span.parent
    parts = [
        _IDS(0x0A, 16, context.trace_id >> 64, context.trace_id & _INT64, 0x12, 8, context.span_id)
    ]
    if context.trace_state:
        parts.append(_delimited(b"\x1a", _trace_state(context).encode()))
    if parent is not None:
        parts.append(_PARENT(0x22, 8, parent.span_id))
    name = _names.get(span.name)
    if name is None:
        if len(_names) >= _ATTRIBUTES_KEPT:
            _names.clear()
        name = _names[span.name] = _delimited(b"\x2a", span.name.encode())
    parts += (
        name,
        # the protocol's kinds count from UNSPECIFIED = 0, the API's from INTERNAL = 0
        _TIMES(0x30, span.kind.value + 1, 0x39, span.start_time or 0, 0x41, span.end_time or 0),
        _key_values(b"\x4a", span.attributes),
    )
    for tag, count in (
        (b"\x50", span.dropped_attributes),
        (b"\x60", span.dropped_events),
        (b"\x70", span.dropped_links),
    ):
        if count:
            parts += (tag, _varint(count))
    if span.events:
        parts += (_delimited(b"\x5a", _event(e)) for e in span.events)
    if span.links:
        parts += (_delimited(b"\x6a", _link(link)) for link in span.links)
    status = span.status
    if status.status_code.value or status.description:
        description = status.description
        parts.append(
            _delimited(
                b"\x7a",
                (_delimited(b"\x12", description.encode()) if description else b"")
                + (b"\x18" + _SMALL[status.status_code.value] if status.status_code.value else b""),
            )
        )
    else:
        parts.append(b"\x7a\x00")  # present, as the exporter's encoder always sets it
    parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    return b"".join(parts)


def _resource(resource: Resource) -> bytes:
    found = _resource_cache.get(id(resource))
    if found is None or found[0] is not resource:
        encoded = _delimited(b"\x0a", _key_values(b"\x0a", resource.attributes))
        found = _resource_cache[id(resource)] = (resource, encoded)
    return found[1]


def _scope(scope: InstrumentationScope | None) -> bytes:
    found = _scope_cache.get(id(scope))
    if found is None or found[0] is not scope:
        content = b""
        if scope is not None:
            content = (
                (_delimited(b"\x0a", scope.name.encode()) if scope.name else b"")
                + (_delimited(b"\x12", scope.version.encode()) if scope.version else b"")
                + _key_values(b"\x1a", scope.attributes)
            )
        found = _scope_cache[id(scope)] = (scope, _delimited(b"\x0a", content))
    return found[1]


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """An OTLP ``ExportTraceServiceRequest`` carrying ``spans``, grouped by resource and
    instrumentation scope the way the exporter's encoder groups them."""
    grouped: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[bytes]]]]]
    grouped = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope
        by_scope = grouped.setdefault(id(resource), (resource, {}))[1]
        by_scope.setdefault(id(scope), (scope, []))[1].append(_span(span))
    request = []
    for resource, by_scope in grouped.values():
        scope_spans = []
        for scope, encoded in by_scope.values():
            content = _scope(scope) + b"".join(_delimited(b"\x12", s) for s in encoded)
            if scope is not None and scope.schema_url:
                content += _delimited(b"\x1a", scope.schema_url.encode())
            scope_spans.append(_delimited(b"\x12", content))
        content = _resource(resource) + b"".join(scope_spans)
        if resource.schema_url:
            content += _delimited(b"\x1a", resource.schema_url.encode())
        request.append(_delimited(b"\x0a", content))
    return b"".join(request)


class OtlpSpanExporter(OTLPSpanExporter):
    """The OTLP http/protobuf exporter (its endpoint, headers, TLS, compression and retries
    from the ``OTEL_EXPORTER_OTLP_*`` environment as usual) with :func:`encode_spans` in
    place of its message-object encoder."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        result = self._client.export(encode_spans(spans))
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

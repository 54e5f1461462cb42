"""The AsyncAPI 3.0 document of every Sextant topic, generated from the registry."""

from __future__ import annotations

from typing import Any

from sextant.contracts.registry import TOPICS, _ensure_loaded
from sextant.contracts.schemas import json_schema_for

_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents Kafka binding, binary mode: attributes as ce_* headers",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "UUIDv7"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_subject": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_dataschema": {"type": "string"},
        "ce_tenantid": {"type": "string", "format": "uuid"},
        "ce_workspaceid": {"type": "string", "format": "uuid"},
        "ce_traceparent": {"type": "string"},
        "content-type": {"type": "string", "const": "application/json"},
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenantid"],
}
_DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_HEADERS["properties"],
        "sextant_error": {"type": "string"},
        "sextant_attempts": {"type": "string"},
        "sextant_original_topic": {"type": "string"},
        "sextant_original_partition": {"type": "string"},
        "sextant_original_offset": {"type": "string"},
    },
}


def _message_id(type_name: str) -> str:
    return type_name.replace(".", "_")


def asyncapi_document() -> dict[str, Any]:
    """A complete AsyncAPI 3.0.0 document: channels, operations, messages, schemas."""
    _ensure_loaded()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in sorted(TOPICS.values(), key=lambda t: t.name):
        channel_id = topic.name.replace(".", "_")
        refs = {}
        for type_name in sorted(topic.types):
            message_id = _message_id(type_name)
            schema = json_schema_for(type_name)
            schemas[message_id] = schema
            messages[message_id] = {
                "name": type_name,
                "contentType": "application/json",
                "headers": _HEADERS,
                "payload": {"$ref": f"#/components/schemas/{message_id}"},
            }
            refs[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": f"{topic.description} Key: {topic.key}. Retention: {topic.retention_days} days.",
            "messages": refs,
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions}},
        }
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Subscribe to {topic.name}",
        }
        dlq_id = f"{channel_id}_dlq"
        messages[f"{dlq_id}_record"] = {
            "name": f"{topic.name}.dlq record",
            "contentType": "application/json",
            "headers": _DLQ_HEADERS,
            "payload": {"type": "object", "description": "the original value, unchanged"},
        }
        channels[dlq_id] = {
            "address": topic.dlq,
            "description": f"Poison messages of {topic.name} with the error and attempt count.",
            "messages": {f"{dlq_id}_record": {"$ref": f"#/components/messages/{dlq_id}_record"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Sextant events",
            "version": "1.0.0",
            "description": "Every topic Sextant publishes; types are versioned (…vN).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }

"""JSON Schemas generated from the models: what partners validate against and what the
compatibility test holds against committed snapshots."""

from __future__ import annotations

from typing import Any

from sextant.contracts.envelope import Envelope
from sextant.contracts.registry import EVENT_TYPES, _ensure_loaded, data_model_for


def json_schema_for(type_name: str) -> dict[str, Any]:
    """The JSON Schema of one event type's ``data``."""
    schema = data_model_for(type_name).model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"/v1/events/schemas/{type_name}",
        "title": type_name,
        **_without_title(schema),
    }


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope (with ``data`` as any object)."""
    schema = Envelope.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/v1/events/schemas/envelope",
        **schema,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every event type's schema by type name, plus ``envelope``."""
    _ensure_loaded()
    schemas = {name: json_schema_for(name) for name in sorted(EVENT_TYPES)}
    schemas["envelope"] = envelope_schema()
    return schemas


def _without_title(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}

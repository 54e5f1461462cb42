"""What every service's OpenAPI document gets beyond FastAPI's: operation ids a generated
client can use as method names, and examples that keep their nulls."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict


def operation_id(route: APIRoute) -> str:
    """The route function's name ("create_tenant"), not FastAPI's name+path+method: a
    generated client's method is named after it. Unique across the merged public document
    (a test there says which two collide)."""
    return route.name


def extended_example(parent: type[BaseModel], **fields: Any) -> ConfigDict:
    """The ``model_config`` of a detail model that adds ``fields`` to ``parent``: its example
    is the parent's plus those fields. An inherited example lacks the detail's own required
    fields, so it would not match the detail's schema."""
    extra = parent.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    base = examples[0] if isinstance(examples, list) and examples else {}
    if not isinstance(base, dict):
        raise TypeError(f"{parent.__name__}'s example is not an object")
    return ConfigDict(json_schema_extra={"examples": [{**base, **fields}]})


def restore_example_nulls(document: dict[str, Any]) -> dict[str, Any]:
    """Put back the nulls FastAPI drops from examples (it encodes the whole document with
    ``exclude_none``): a required, nullable field the example gave as null is absent
    afterwards, so the example no longer matches its own schema. Idempotent."""
    components = document.get("components", {}).get("schemas", {})
    for schema in components.values():
        for example in schema.get("examples", []):
            _restore(example, schema, components)
    return document


def _restore(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        _restore(value, components.get(ref.rsplit("/", 1)[-1], {}), components)
        return
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        _restore(value, variant, components)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _restore(item, schema["items"], components)
    if not isinstance(value, dict) or schema.get("type") not in (None, "object"):
        return
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value and _nullable(properties.get(name, {})):
            value[name] = None
    for name, item in value.items():
        if name in properties:
            _restore(item, properties[name], components)
        elif isinstance(schema.get("additionalProperties"), dict):
            _restore(item, schema["additionalProperties"], components)


def _nullable(schema: dict[str, Any]) -> bool:
    variants = schema.get("anyOf", []) + schema.get("oneOf", [])
    return schema.get("type") == "null" or any(v.get("type") == "null" for v in variants)

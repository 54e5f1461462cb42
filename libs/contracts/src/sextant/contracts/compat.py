"""Is a new JSON Schema still readable by consumers of the old one?

Consumers break when something they read goes away or gets narrower: a removed (or
renamed) property, a property that becomes required, a type or enum value dropped, a
bound tightened, nullable made non-nullable. Additions that old consumers can ignore —
a new optional property, a new enum value, a wider type — are fine.
"""

from __future__ import annotations

from typing import Any

_TIGHTER_IF_LARGER = ("minLength", "minimum", "exclusiveMinimum", "minItems")
_TIGHTER_IF_SMALLER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")


def breaking_changes(old: dict[str, Any], new: dict[str, Any], name: str = "$") -> list[str]:
    """Human-readable incompatibilities from ``old`` to ``new`` (empty when compatible)."""
    problems: list[str] = []
    _compare(_Resolver(old), old, _Resolver(new), new, name, problems, set())
    return problems


class _Resolver:
    def __init__(self, root: dict[str, Any]) -> None:
        self._defs: dict[str, Any] = root.get("$defs", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 50:
            ref: str = schema["$ref"]
            schema = {
                **self._defs.get(ref.rsplit("/", 1)[-1], {}),
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
            seen += 1
        return schema


def _variants(resolver: _Resolver, schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolver.resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [v for option in options for v in _variants(resolver, option)]
    types = schema.get("type")
    if isinstance(types, list):
        return [{**schema, "type": t} for t in types]
    return [schema]


def _kind(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return "enum"
    if "enum" in schema:
        return "enum"
    return str(schema.get("type", "any"))


def _values(schema: dict[str, Any]) -> set[Any]:
    if "const" in schema:
        return {_freeze(schema["const"])}
    return {_freeze(v) for v in schema.get("enum", [])}


def _freeze(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _compare(
    old_r: _Resolver,
    old: dict[str, Any],
    new_r: _Resolver,
    new: dict[str, Any],
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    key = (id(old), id(new))
    if key in seen:
        return
    seen.add(key)
    old_variants, new_variants = _variants(old_r, old), _variants(new_r, new)
    if any(_kind(v) == "any" and not v.get("properties") for v in new_variants):
        return  # the new schema accepts anything
    for old_v in old_variants:
        match = _best_match(old_v, new_variants)
        if match is None:
            problems.append(f"{path}: no longer accepts {_describe(old_v)}")
            continue
        _compare_same_kind(old_r, old_v, new_r, match, path, problems, seen)


def _best_match(old_v: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    kind = _kind(old_v)
    if kind == "enum":
        values = _values(old_v)
        for c in candidates:
            if _kind(c) == "enum" and values <= _values(c):
                return c
            if _kind(c) != "enum" and all(_json_type(v) == _kind(c) for v in values):
                return c
        return next((c for c in candidates if _kind(c) == "enum"), None)
    same = [c for c in candidates if _kind(c) == kind]
    if not same and kind == "integer":
        same = [c for c in candidates if _kind(c) == "number"]
    return same[0] if same else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _describe(schema: dict[str, Any]) -> str:
    if _kind(schema) == "enum":
        return f"values {sorted(map(str, _values(schema)))}"
    return f"type {_kind(schema)}"


def _compare_same_kind(
    old_r: _Resolver,
    old: dict[str, Any],
    new_r: _Resolver,
    new: dict[str, Any],
    path: str,
    problems: list[str],
    seen: set[tuple[int, int]],
) -> None:
    if _kind(old) == "enum" and _kind(new) == "enum":
        lost = _values(old) - _values(new)
        if lost:
            problems.append(f"{path}: enum values removed: {sorted(map(str, lost))}")
        return
    for bound in _TIGHTER_IF_LARGER:
        if bound in new and (bound not in old or new[bound] > old[bound]):
            problems.append(f"{path}: {bound} tightened to {new[bound]}")
    for bound in _TIGHTER_IF_SMALLER:
        if bound in new and (bound not in old or new[bound] < old[bound]):
            problems.append(f"{path}: {bound} tightened to {new[bound]}")
    if "pattern" in new and new.get("pattern") != old.get("pattern"):
        problems.append(f"{path}: pattern changed to {new['pattern']!r}")
    if "format" in new and new.get("format") != old.get("format"):
        problems.append(f"{path}: format changed to {new['format']!r}")
    if _kind(old) == "object":
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for prop in old_props:
            if prop not in new_props:
                problems.append(f"{path}.{prop}: property removed (or renamed)")
        newly_required = set(new.get("required", [])) - set(old.get("required", []))
        for prop in sorted(newly_required):
            problems.append(f"{path}.{prop}: became required")
        if (
            old.get("additionalProperties", True) is not False
            and new.get("additionalProperties") is False
        ):
            problems.append(f"{path}: no longer allows additional properties")
        for prop, old_schema in old_props.items():
            if prop in new_props:
                _compare(
                    old_r, old_schema, new_r, new_props[prop], f"{path}.{prop}", problems, seen
                )
    if _kind(old) == "array" and "items" in old and "items" in new:
        _compare(old_r, old["items"], new_r, new["items"], f"{path}[]", problems, seen)

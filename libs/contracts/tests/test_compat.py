"""breaking_changes tells consumer-breaking changes from additive ones."""

from sextant.contracts.compat import breaking_changes


def obj(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required)}


BASE = obj(
    {
        "sha": {"type": "string"},
        "status": {"enum": ["success", "failed"]},
        "count": {"type": "integer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    required=["sha"],
)


def test_identical_schemas_are_compatible():
    assert breaking_changes(BASE, BASE) == []


def test_removed_or_renamed_property_breaks():
    new = obj(
        {k: v for k, v in BASE["properties"].items() if k != "sha"}
        | {"commit_sha": {"type": "string"}},
        ["commit_sha"],
    )
    problems = breaking_changes(BASE, new)
    assert any("sha: property removed" in p for p in problems)


def test_property_becoming_required_breaks():
    new = {**BASE, "required": ["sha", "count"]}
    assert any("count: became required" in p for p in breaking_changes(BASE, new))


def test_narrowed_type_breaks():
    new = obj({**BASE["properties"], "count": {"type": "string"}}, ["sha"])
    assert any("$.count: no longer accepts type integer" in p for p in breaking_changes(BASE, new))


def test_removed_enum_value_breaks():
    new = obj({**BASE["properties"], "status": {"enum": ["success"]}}, ["sha"])
    assert any("enum values removed" in p for p in breaking_changes(BASE, new))


def test_nullable_becoming_non_nullable_breaks():
    new = obj({**BASE["properties"], "note": {"type": "string"}}, ["sha"])
    assert any("no longer accepts type null" in p for p in breaking_changes(BASE, new))


def test_tightened_bound_breaks():
    new = obj({**BASE["properties"], "sha": {"type": "string", "minLength": 40}}, ["sha"])
    assert any("minLength tightened" in p for p in breaking_changes(BASE, new))


def test_nested_refs_are_followed():
    old = {
        "type": "object",
        "properties": {"actor": {"$ref": "#/$defs/Actor"}},
        "$defs": {"Actor": obj({"login": {"type": "string"}, "email": {"type": "string"}})},
    }
    new = {
        "type": "object",
        "properties": {"actor": {"$ref": "#/$defs/Actor"}},
        "$defs": {"Actor": obj({"login": {"type": "string"}})},
    }
    assert breaking_changes(old, new) == ["$.actor.email: property removed (or renamed)"]


def test_additive_changes_are_allowed():
    new = obj(
        {
            **BASE["properties"],
            "status": {"enum": ["success", "failed", "cancelled"]},
            "count": {"type": "number"},
            "labels": {"type": "array", "items": {"type": "string"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        },
        ["sha"],
    )
    assert breaking_changes(BASE, new) == []

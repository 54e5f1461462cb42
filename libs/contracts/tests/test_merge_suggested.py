"""``MergeSuggested`` carries split suggestions too (``kind``, ``alias_ids``), added so that
readers of the first schema and events published under it keep working."""

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from sextant.contracts import uuid7
from sextant.contracts.compat import breaking_changes
from sextant.contracts.events.platform import MergeSuggested
from sextant.contracts.schemas import all_schemas

NAME = "sextant.identity.merge.suggested.v1"
SCHEMAS = Path(__file__).parents[1] / "schemas"
UUIDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}
# The schema as first published (before kind and alias_ids).
FIRST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "suggestion_id": {"type": "string", "format": "uuid"},
        "developer_ids": {**UUIDS, "minItems": 2},
        "rule": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["suggestion_id", "developer_ids", "rule", "score"],
}


def test_kind_and_alias_ids_only_add_to_the_first_schema() -> None:
    assert breaking_changes(FIRST, all_schemas()[NAME], NAME) == []
    assert "kind" not in all_schemas()[NAME]["required"]


def test_a_suggestion_published_before_kind_reads_as_a_merge() -> None:
    old = {
        "suggestion_id": str(uuid7()),
        "developer_ids": [str(uuid7()), str(uuid7())],
        "rule": "same first and last name, middle names differ",
        "score": 0.4,
    }
    read = MergeSuggested.model_validate(old)
    assert (read.kind, read.alias_ids) == ("merge", [])


def test_a_split_suggestion_matches_the_committed_schema() -> None:
    developer, alias = uuid7(), uuid7()
    split = MergeSuggested(
        suggestion_id=uuid7(),
        developer_ids=[developer, developer],
        rule="address found shared: split?",
        score=0.0,
        kind="split",
        alias_ids=[alias],
    )
    schema = json.loads((SCHEMAS / f"{NAME}.json").read_text())
    payload = split.model_dump(mode="json")
    jsonschema.validate(payload, schema)
    assert payload["kind"] == "split" and payload["alias_ids"] == [str(alias)]
    with pytest.raises(ValidationError):
        MergeSuggested.model_validate({**payload, "kind": "rename"})

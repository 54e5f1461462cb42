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


def test_the_purge_events_grew_only_optional_fields():
    """PurgeRequested/PurgeDone as the first archive sent them still read, and their
    schemas gained nothing a consumer of those must now send."""
    from pydantic import AwareDatetime, BaseModel, Field

    from sextant.contracts.events.platform import PurgeDone, PurgeRequested
    from sextant.contracts.schemas import json_schema_for

    class FirstRequest(BaseModel):
        manifest_id: str
        older_than: AwareDatetime

    class FirstDone(BaseModel):
        manifest_id: str
        service: str
        rows_deleted: int = Field(ge=0)

    requested = json_schema_for("sextant.lifecycle.purge.requested.v1")
    done = json_schema_for("sextant.lifecycle.purge.done.v1")
    assert sorted(requested["required"]) == ["manifest_id", "older_than"]
    assert sorted(done["required"]) == ["manifest_id", "rows_deleted", "service"]
    old = PurgeRequested.model_validate(
        {"manifest_id": "00000000-0000-7000-8000-000000000001", "older_than": "2026-03-01T17:00Z"}
    )
    assert old.data_class is None and old.not_before is None and old.holds == []
    assert old.scope is None and old.workspace_id is None
    first = {"manifest_id": "00000000-0000-7000-8000-000000000001", "service": "ingest"}
    assert PurgeDone.model_validate(first | {"rows_deleted": 3}).request_id is None
    assert FirstRequest.model_validate(old.model_dump(mode="json")).older_than == old.older_than
    assert FirstDone.model_validate(first | {"rows_deleted": 3, "data_class": "x"})
    scoped = PurgeRequested.model_validate(
        old.model_dump(mode="json") | {"scope": "workspace", "workspace_id": first["manifest_id"]}
    )
    assert scoped.data_class is None  # an owner predating scopes deletes nothing
    assert FirstRequest.model_validate(scoped.model_dump(mode="json")).older_than == old.older_than
    assert FirstDone.model_validate(first | {"rows_deleted": 0, "scope": "tenant"})


def test_a_deleted_work_items_request_is_a_purge_request_of_the_first_shape():
    """#18: work items deleted in their tool are purged by a request of a class of its own,
    no new field; a consumer of the first shape reads it, and one predating the class
    sees a class it does not declare (it deletes nothing)."""
    from pydantic import AwareDatetime, BaseModel

    from sextant.contracts.events.platform import DELETED_WORK_ITEMS, PurgeRequested
    from sextant.contracts.schemas import json_schema_for

    class FirstRequest(BaseModel):
        manifest_id: str
        older_than: AwareDatetime

    request = PurgeRequested(
        manifest_id="00000000-0000-7000-8000-000000000001",
        older_than="2026-03-01T17:00Z",
        data_class=DELETED_WORK_ITEMS,
    )
    sent = request.model_dump(mode="json")
    assert sent["data_class"] == "deleted_work_items" and sent["topic"] is None
    assert FirstRequest.model_validate(sent).older_than == request.older_than
    schema = json_schema_for("sextant.lifecycle.purge.requested.v1")
    assert sorted(schema["required"]) == ["manifest_id", "older_than"]


def test_commits_source_is_an_additive_change_to_the_merged_event():
    """#24: ChangeRequestMerged gained ``commits_source``; consumers of v1 are not broken,
    and an event from before reads with it unset."""
    from sextant.contracts.events.activity import ChangeRequestMerged
    from sextant.contracts.schemas import all_schemas

    new = all_schemas()["sextant.activity.change_request.merged.v1"]
    old = {
        **new,
        "properties": {k: v for k, v in new["properties"].items() if k != "commits_source"},
    }
    assert "commits_source" in new["properties"]
    assert "commits_source" not in new.get("required", [])
    assert breaking_changes(old, new) == []
    before = {
        "change_request": {
            "source": {
                "kind": "github",
                "source_id": "0190f5c2-0000-7000-8000-000000000001",
                "external_id": "1042",
            },
            "repository": {"external_id": "1296269", "full_name": "octo-org/octo-repo"},
            "number": 42,
            "title": "Make the widget faster",
            "author": {"kind": "github", "login": "octocat"},
            "base_branch": "main",
            "head_branch": "faster-widget",
            "created_at": "2026-03-02T09:00:00Z",
        },
        "merge_sha": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "commit_shas": ["6dcb09b5b57875f334f61aebed695e2e4193db5e"],
        "merged_at": "2026-03-04T15:30:00Z",
    }
    assert ChangeRequestMerged.model_validate(before).commits_source is None

"""Generated schemas match the committed snapshots or only add; AsyncAPI is complete."""

import json
from pathlib import Path

import jsonschema
import pytest

import sextant.contracts.events  # noqa: F401 - registers every type before parametrizing
from sextant.contracts import EVENT_TYPES, TOPICS
from sextant.contracts.asyncapi import asyncapi_document
from sextant.contracts.compat import breaking_changes
from sextant.contracts.schemas import all_schemas
from sextant.contracts.snapshots import differences

PACKAGE = Path(__file__).resolve().parents[1]


def test_schemas_match_snapshots_or_only_add():
    snapshots = PACKAGE / "schemas"
    current = all_schemas()
    problems = []
    for snapshot in sorted(snapshots.glob("*.json")):
        name = snapshot.stem
        if name not in current:
            problems.append(f"{name}: type removed (publish a new version instead)")
            continue
        problems += breaking_changes(json.loads(snapshot.read_text()), current[name], name)
    assert problems == [], "incompatible contract changes:\n" + "\n".join(problems)


def test_snapshots_are_up_to_date():
    stale = differences(PACKAGE)
    assert stale == [], (
        "regenerate with `python -m sextant.contracts.snapshots --write`:\n" + "\n".join(stale)
    )


def test_asyncapi_lists_every_topic_and_dlq_with_resolvable_messages():
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {t.name for t in TOPICS.values()} | {t.dlq for t in TOPICS.values()}
    names = set()
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            names.add(message["name"])
            payload_ref = message["payload"].get("$ref")
            if payload_ref:
                assert payload_ref.rsplit("/", 1)[1] in document["components"]["schemas"]
    assert set(EVENT_TYPES) <= names
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].rsplit("/", 1)[1] in document["channels"]


@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_every_schema_is_a_valid_json_schema(type_name):
    jsonschema.Draft202012Validator.check_schema(all_schemas()[type_name])


def test_a_real_event_validates_against_its_committed_schema():
    from datetime import UTC, datetime

    from sextant.contracts import uuid7
    from sextant.contracts.events.activity import ChangeRequest, ChangeRequestMerged
    from sextant.contracts.events.common import Actor, Repository, SourceRef

    now = datetime(2026, 11, 24, tzinfo=UTC)
    author = Actor(
        kind="github", account_id="583231", login="octocat", email=None, display_name="The Octocat"
    )
    event = ChangeRequestMerged(
        change_request=ChangeRequest(
            source=SourceRef(
                kind="github",
                source_id=uuid7(),
                external_id="1",
                url="https://example.invalid/pr/1",
            ),
            repository=Repository(external_id="1296269", full_name="octocat/Hello-World"),
            number=1,
            title="Fix",
            author=author,
            base_branch="main",
            head_branch="fix",
            created_at=now,
        ),
        merge_sha="a" * 40,
        commit_shas=["b" * 40, "c" * 40],
        merged_by=author,
        merged_at=now,
    )
    schema = json.loads(
        (PACKAGE / "schemas" / "sextant.activity.change_request.merged.v1.json").read_text()
    )
    jsonschema.Draft202012Validator(schema).validate(event.model_dump(mode="json"))
    broken = event.model_dump(mode="json")
    del broken["merge_sha"]
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)

"""The envelope survives the Kafka binary binding; ids sort by time; every type has one topic."""

import os
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sextant.contracts import (
    EVENT_TYPES,
    TOPICS,
    Envelope,
    data_model_for,
    from_kafka_binary,
    to_kafka_binary,
    topic_for_type,
    uuid5,
    uuid7,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    subject=st.none() | st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s),
    with_workspace=st.booleans(),
)
def test_envelope_round_trips_through_kafka_binary_mode(data, subject, with_workspace):
    envelope = Envelope(
        source="/sextant/ingest",
        type="sextant.activity.work_item.created.v1",
        subject=subject,
        tenantid=uuid7(),
        workspaceid=uuid7() if with_workspace else None,
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        data=data,
    )
    headers, value = to_kafka_binary(envelope)
    assert all(name == "content-type" or name.startswith("ce_") for name, _ in headers)
    assert from_kafka_binary(headers, value) == envelope


def test_envelope_rejects_a_naive_time_and_a_bad_type():
    with pytest.raises(ValueError, match="timezone"):
        naive = datetime(2026, 1, 1)  # noqa: DTZ001 - naive on purpose
        Envelope(source="/s", type="sextant.x.y.v1", tenantid=uuid7(), data={}, time=naive)
    with pytest.raises(ValueError):
        Envelope(source="/s", type="not-a-type", tenantid=uuid7(), data={})


def test_uuid7_has_version_7_and_sorts_by_creation():
    ids = [uuid7() for _ in range(5000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    millis = ids[0].int >> 80
    assert abs(millis - int(datetime.now(UTC).timestamp() * 1000)) < 60_000


def test_uuid7_in_a_forked_child_does_not_repeat_the_parents_randomness():
    uuid7()  # the parent has read ahead from the OS
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, uuid7().bytes)
        os._exit(0)
    os.waitpid(child, 0)
    in_child, in_parent = uuid.UUID(bytes=os.read(read, 16)), uuid7()
    os.close(read), os.close(write)
    assert in_child.int & ((1 << 62) - 1) != in_parent.int & ((1 << 62) - 1)


@given(namespace=st.uuids(), name=st.text(max_size=80))
def test_uuid5_is_the_standard_librarys(namespace, name):
    assert uuid5(namespace, name) == uuid.uuid5(namespace, name)
    assert uuid5(namespace, name).version == 5


def test_every_type_is_on_exactly_one_topic_and_named_by_convention():
    on_topics = [t for topic in TOPICS.values() for t in topic.types]
    assert sorted(on_topics) == sorted(EVENT_TYPES)
    for name in EVENT_TYPES:
        assert name.startswith("sextant.") and name.rsplit(".", 1)[1].startswith("v")
        assert topic_for_type(name).name in TOPICS


def test_topics_have_dead_letter_queues_and_keys():
    for topic in TOPICS.values():
        assert topic.dlq == topic.name + ".dlq"
        assert topic.key.startswith("tenant_id/")
        assert topic.retention_days > 0


def test_unknown_type_is_named_in_the_error():
    with pytest.raises(KeyError, match=r"sextant\.nope\.v1"):
        data_model_for("sextant.nope.v1")


def test_wrap_fills_type_and_schema_from_the_model():
    from sextant.contracts.events.platform import NotificationRaised

    data = NotificationRaised(
        notification_id=uuid7(),
        severity="warning",
        audience=["tenant_admin"],
        title="Backfill failed",
        body="GitHub answered 401",
        raised_by="ingest",
    )
    envelope = Envelope.wrap(data, source="/sextant/ingest", tenantid=uuid7(), subject="n1")
    assert envelope.type == "sextant.notifications.raised.v1"
    assert envelope.dataschema == "/v1/events/schemas/sextant.notifications.raised.v1"
    assert envelope.typed_data() == data


def test_an_attribution_without_an_alias_still_reads_and_one_with_it_keeps_it():
    """``Attribution.alias_id`` is optional: events written before it (or by an identity
    that does not fill it) read as before; a consumer following splits reads it back."""
    from sextant.contracts.events.platform import ActivityAttributed

    old = {
        "original_id": str(uuid7()),
        "original_type": "sextant.activity.commits.pushed.v1",
        "original": {},
        "attributions": [
            {
                "path": "pusher",
                "actor": {"kind": "github", "login": "a"},
                "developer_id": str(uuid7()),
            }
        ],
    }
    assert ActivityAttributed.model_validate(old).attributions[0].alias_id is None
    alias = uuid7()
    old["attributions"][0]["alias_id"] = str(alias)
    assert ActivityAttributed.model_validate(old).attributions[0].alias_id == alias


def test_a_replay_travels_with_its_restore_and_is_claimed_once_per_restore():
    from uuid import UUID, uuid5

    from sextant.contracts import from_kafka_binary, to_kafka_binary
    from sextant.contracts.compat import breaking_changes
    from sextant.contracts.schemas import envelope_schema

    original = Envelope(
        id=UUID("00000000-0000-7000-8000-000000000001"),
        source="/sextant/ingest",
        type="sextant.test.replayed.v1",
        tenantid=UUID("00000000-0000-7000-8000-0000000000aa"),
        data={"n": 1},
    )
    restore = UUID("00000000-0000-7000-8000-0000000000bb")
    replay = original.model_copy(update={"replayid": restore})
    headers, value = to_kafka_binary(replay)
    assert ("ce_replayid", str(restore).encode()) in headers
    assert from_kafka_binary(headers, value) == replay
    assert original.inbox_id == original.id
    assert replay.inbox_id == uuid5(restore, "00000000-0000-7000-8000-000000000001")
    assert replay.inbox_id != original.id
    # an envelope without the field reads as before; the schema only grew an optional one
    assert "replayid" not in envelope_schema()["required"]
    without = envelope_schema()
    without["properties"] = {k: v for k, v in without["properties"].items() if k != "replayid"}
    assert breaking_changes(without, envelope_schema()) == []

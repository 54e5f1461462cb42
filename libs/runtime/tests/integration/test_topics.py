"""Topics on a real Kafka-protocol broker (tansu): a service on the Kafka bus starts only
when every topic and DLQ it needs exists with the configured partitions — creating the
missing ones when allowed, naming what is wrong and the setting to change otherwise."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.topics import (
    TopicPlan,
    TopicsNotReady,
    ensure_topics,
    reconcile,
    registry_plan,
)
from sextant.runtime.wiring import create_bus

# The registry's own count: what cli/tests/test_sextant_topics.py and any test of a service
# on Kafka with default settings ask for too.
REGISTRY_PARTITIONS = 12


async def partition_counts(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def create_by_hand(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def fresh(prefix: str = "topics") -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


async def test_missing_topics_are_created_with_their_partitions_once(
    kafka_bootstrap: str,
) -> None:
    name = fresh()
    plans = [TopicPlan(name, 3), TopicPlan(f"{name}.dlq", 3)]
    first = await ensure_topics(kafka_bootstrap, plans, create=True)
    assert [(o.plan.name, o.status, o.partitions) for o in first] == [
        (name, "created", 3),
        (f"{name}.dlq", "created", 3),
    ]
    counts = await partition_counts(kafka_bootstrap)
    assert (counts[name], counts[f"{name}.dlq"]) == (3, 3)
    again = await ensure_topics(kafka_bootstrap, plans, create=True)
    assert [o.status for o in again] == ["present", "present"]


async def test_a_topic_with_fewer_partitions_stops_the_start_naming_it_and_the_setting(
    kafka_bootstrap: str,
) -> None:
    name = fresh()
    await create_by_hand(kafka_bootstrap, name, 2)
    with pytest.raises(TopicsNotReady) as refused:
        await ensure_topics(kafka_bootstrap, [TopicPlan(name, 4)], create=True)
    message = str(refused.value)
    assert f"{name} has 2 partitions, 4 partitions are configured" in message
    assert "SEXTANT_KAFKA_PARTITIONS" in message
    assert (await partition_counts(kafka_bootstrap))[name] == 2  # never altered at start


async def test_more_partitions_than_configured_are_accepted(kafka_bootstrap: str) -> None:
    name = fresh()
    await create_by_hand(kafka_bootstrap, name, 5)
    [outcome] = await ensure_topics(kafka_bootstrap, [TopicPlan(name, 3)], create=True)
    assert (outcome.status, outcome.partitions) == ("present", 5)


async def test_without_leave_to_create_a_missing_topic_is_named_and_not_created(
    kafka_bootstrap: str,
) -> None:
    name = fresh()
    with pytest.raises(TopicsNotReady) as refused:
        await ensure_topics(kafka_bootstrap, [TopicPlan(name, 3)], create=False)
    message = str(refused.value)
    assert f"{name} does not exist (3 partitions wanted)" in message
    assert "SEXTANT_KAFKA_CREATE_TOPICS is false" in message
    # Looking did not make the broker auto-create it.
    assert name not in await partition_counts(kafka_bootstrap)
    [outcome] = await reconcile(kafka_bootstrap, [TopicPlan(name, 3)], create=False)
    assert outcome.status == "missing"


async def test_the_kafka_bus_of_a_deployment_creates_every_registered_topic_and_dlq(
    kafka_bootstrap: str,
) -> None:
    # The session's broker is shared: every test that makes the registry's topics asks
    # for REGISTRY_PARTITIONS, whichever runs first.
    settings = RuntimeSettings(
        bus="kafka", kafka_bootstrap_servers=kafka_bootstrap, kafka_partitions=REGISTRY_PARTITIONS
    )
    bus = create_bus(settings)
    await bus.start()
    await bus.stop()
    counts = await partition_counts(kafka_bootstrap)
    for topic in ("sextant.activity", "sextant.activity.dlq", "sextant.config.dlq"):
        assert counts.get(topic, 0) >= REGISTRY_PARTITIONS, (topic, counts.get(topic))


async def test_a_deployment_configured_for_more_partitions_than_its_topics_does_not_start(
    kafka_bootstrap: str,
) -> None:
    settings = RuntimeSettings(
        bus="kafka",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_partitions=1000,
        kafka_create_topics=False,
    )
    with pytest.raises(TopicsNotReady) as refused:
        await create_bus(settings).start()
    assert "sextant.activity " in str(refused.value)
    assert "1000 partitions" in str(refused.value)


async def test_two_replicas_starting_together_both_start_on_one_topic(
    kafka_bootstrap: str,
) -> None:
    name = fresh()
    plans = [TopicPlan(name, 3), TopicPlan(f"{name}.dlq", 3)]
    one, two = await asyncio.gather(
        ensure_topics(kafka_bootstrap, plans, create=True),
        ensure_topics(kafka_bootstrap, plans, create=True),
    )
    assert all(o.ok and o.partitions == 3 for o in [*one, *two]), (one, two)
    counts = await partition_counts(kafka_bootstrap)
    assert (counts[name], counts[f"{name}.dlq"]) == (3, 3)


async def test_a_created_topic_keeps_records_for_its_contracts_retention(
    kafka_bootstrap: str,
) -> None:
    name = fresh()
    [outcome] = await ensure_topics(
        kafka_bootstrap, [TopicPlan(name, 1, retention_days=30)], create=True
    )
    assert outcome.status == "created"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    # (error code, message, type, name, [(config, value, ...)]) per resource
    configs = {
        entry[0]: entry[1]
        for response in responses
        for resource in response.resources
        for entry in resource[4]
    }
    assert configs.get("retention.ms") == "2592000000"  # 30 days of 86,400,000 ms


def test_the_registry_plans_each_topic_and_its_dlq_with_the_contracts_retention() -> None:
    plans = {p.name: p for p in registry_plan()}
    # sextant.activity: 30 days in its contract; sextant.identity: 365.
    assert plans["sextant.activity"].configs == {"retention.ms": "2592000000"}
    assert plans["sextant.activity.dlq"].configs == {"retention.ms": "2592000000"}
    assert plans["sextant.identity"].configs == {"retention.ms": "31536000000"}

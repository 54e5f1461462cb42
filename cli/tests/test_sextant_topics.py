"""`sextant topics create` makes every registered topic and DLQ with the configured
partitions on a real broker (tansu), is idempotent, and names a topic with too few; a
service served on Kafka does not start while a topic has too few."""

import asyncio
import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient

import sextant.contracts.topics  # noqa: F401 - registers every topic
from sextant.cli.services import spec_for
from sextant.contracts import TOPICS
from sextant.runtime.testing.apps import running_app, service_settings
from sextant.runtime.testing.plugin import InternalKeys
from sextant.runtime.topics import TopicsNotReady
from sextant.runtime.wiring import standalone_app

# The session's broker is shared: every test that makes the registry's topics asks for
# the same count (libs/runtime/tests/integration/test_topics.py too).
REGISTRY_PARTITIONS = "12"  # the registry's own, as a service with default settings asks


def topics_create(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sextant.cli", "topics", "create", *args],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def statuses(output: str) -> dict[str, str]:
    """topic → status, from the command's lines ("created  sextant.activity  2 partitions")."""
    lines = [line.split() for line in output.splitlines() if line.strip()]
    return {words[-3]: " ".join(words[:-3]) for words in lines}


async def partition_counts(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def test_topics_create_makes_every_topic_and_dlq_once_and_names_too_few(
    kafka_bootstrap: str,
) -> None:
    names = sorted([t.name for t in TOPICS.values()] + [t.dlq for t in TOPICS.values()])
    assert len(names) == 20 and {"sextant.activity.dlq", "sextant.gates.dlq"} <= set(names)

    first = await asyncio.to_thread(
        topics_create, kafka_bootstrap, "--partitions", REGISTRY_PARTITIONS
    )
    assert first.returncode == 0, first.stderr
    assert set(statuses(first.stdout)) == set(names)
    assert set(statuses(first.stdout).values()) <= {"created", "present"}
    counts = await partition_counts(kafka_bootstrap)
    assert all(counts[name] >= int(REGISTRY_PARTITIONS) for name in names), counts

    again = await asyncio.to_thread(
        topics_create, kafka_bootstrap, "--partitions", REGISTRY_PARTITIONS
    )
    assert again.returncode == 0, again.stderr
    assert set(statuses(again.stdout).values()) == {"present"}

    more = await asyncio.to_thread(topics_create, kafka_bootstrap, "--partitions", "5000")
    assert more.returncode == 1
    assert f"sextant.activity has {counts['sextant.activity']} partitions, 5000" in more.stderr
    assert "SEXTANT_KAFKA_PARTITIONS" in more.stderr
    assert await partition_counts(kafka_bootstrap) == counts  # nothing altered


async def test_a_served_service_does_not_start_while_its_topics_have_too_few_partitions(
    kafka_bootstrap: str, database_url: str, internal_keys: InternalKeys
) -> None:
    settings = service_settings(
        database_url,
        internal_keys,
        bus="kafka",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_partitions=4000,
        kafka_create_topics=False,
    )
    with pytest.raises(TopicsNotReady) as refused:
        async with running_app(standalone_app(spec_for("identity"), settings)):
            pass
    assert "sextant.activity.attributed " in str(refused.value)
    assert "4000 partitions" in str(refused.value)

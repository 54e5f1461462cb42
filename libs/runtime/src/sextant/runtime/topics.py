"""The Kafka topics a deployment must have, checked and created with their partitions.

A topic the broker auto-creates on first use gets the broker's default partition count
(one on a stock Kafka), and extra consumer replicas then share nothing. So every service
on the Kafka bus checks at start that each registered topic and its DLQ exists with at
least the configured partitions, creates the missing ones when allowed
(``SEXTANT_KAFKA_CREATE_TOPICS``), and refuses to start otherwise. Partitions are never
added here: adding them moves keys to other partitions, which breaks per-key order for
events already in flight, so that is an operator's deliberate step.

Existing topics are read with a metadata request for *all* topics: one naming a missing
topic would ask the broker to auto-create it (aiokafka sets ``allow_auto_topic_creation``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code

from sextant.contracts import TOPICS
from sextant.contracts.registry import _ensure_loaded

TOPIC_ALREADY_EXISTS = 36  # another replica created it first: checked like any other
READ_BACK_ATTEMPTS = 5


@dataclass(frozen=True)
class TopicPlan:
    """A topic as the deployment wants it."""

    name: str
    partitions: int
    replication_factor: int = 1
    retention_days: float | None = None  # the contract's; None: the broker's default

    @property
    def configs(self) -> dict[str, str]:
        """The topic configs it is created with: its retention (``retention.ms``), which
        the consumers' inboxes keep event ids for, so the broker must not drop records
        sooner nor keep them for ever."""
        if self.retention_days is None:
            return {}
        return {"retention.ms": str(round(self.retention_days * 86_400_000))}


Status = Literal["created", "present", "missing", "too few partitions", "not created"]


@dataclass(frozen=True)
class TopicOutcome:
    """What was found (and done) for one planned topic; ``partitions`` is the broker's."""

    plan: TopicPlan
    status: Status
    partitions: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("created", "present")

    def describe(self) -> str:
        """One line for an operator: the topic, its partitions, what is wrong."""
        want = f"{self.plan.partitions} partitions"
        if self.status == "too few partitions":
            return (
                f"{self.plan.name} has {self.partitions} partitions, {want} are configured "
                "(SEXTANT_KAFKA_PARTITIONS): add them with kafka-topics --alter while no "
                "service runs, or configure the count the topic has"
            )
        if self.status == "missing":
            return (
                f"{self.plan.name} does not exist ({want} wanted) and "
                "SEXTANT_KAFKA_CREATE_TOPICS is false: run `sextant topics create`"
            )
        if self.status == "not created":
            return f"{self.plan.name} could not be created with {want}: {self.error}"
        return f"{self.plan.name}: {self.status}, {self.partitions} partitions"


class TopicsNotReady(RuntimeError):
    """The broker lacks a topic the services need, or has it with too few partitions."""

    def __init__(self, outcomes: Sequence[TopicOutcome]) -> None:
        self.outcomes = list(outcomes)
        lines = "\n".join(f"  - {o.describe()}" for o in self.outcomes)
        super().__init__(f"Kafka topics not ready:\n{lines}")


def registry_plan(partitions: int | None = None, replication_factor: int = 1) -> list[TopicPlan]:
    """Every registered topic and its DLQ (same partitions: a poison record keeps its key;
    same retention: an operator replays it within that time), with the registry's
    partition count unless ``partitions`` overrides it, and the contract's retention."""
    _ensure_loaded()
    plans = []
    for topic in sorted(TOPICS.values(), key=lambda t: t.name):
        count = partitions or topic.partitions
        for name in (topic.name, topic.dlq):
            plans.append(TopicPlan(name, count, replication_factor, topic.retention_days))
    return plans


async def reconcile(
    bootstrap_servers: str,
    plans: Sequence[TopicPlan],
    *,
    create: bool,
    client_options: Mapping[str, Any] | None = None,
) -> list[TopicOutcome]:
    """Compare the broker's topics with ``plans``; create the missing ones if ``create``.

    Idempotent: a topic another process creates meanwhile is read back and judged by its
    partitions like any other."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="sextant-topics", **(client_options or {})
    )
    await admin.start()
    try:
        existing = await _partition_counts(admin)
        outcomes = {p.name: _judge(p, existing.get(p.name)) for p in plans}
        missing = [p for p in plans if outcomes[p.name].status == "missing"]
        if create and missing:
            outcomes.update(await _create(admin, missing))
        return [outcomes[p.name] for p in plans]
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap_servers: str,
    plans: Sequence[TopicPlan],
    *,
    create: bool,
    client_options: Mapping[str, Any] | None = None,
) -> list[TopicOutcome]:
    """:func:`reconcile`, raising :class:`TopicsNotReady` naming every topic not right."""
    outcomes = await reconcile(
        bootstrap_servers, plans, create=create, client_options=client_options
    )
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise TopicsNotReady(failed)
    return outcomes


async def _create(
    admin: AIOKafkaAdminClient, missing: Sequence[TopicPlan]
) -> dict[str, TopicOutcome]:
    """Create ``missing``. One the broker created is taken as asked (its metadata may lag
    on other brokers); one another process created first is read back and judged."""
    response = await admin.create_topics(
        [
            NewTopic(p.name, p.partitions, p.replication_factor, topic_configs=p.configs)
            for p in missing
        ]
    )
    codes = {  # (topic, code) before v1 of the response, then a message too
        error[0]: (error[1], error[2] if len(error) > 2 else None)
        for error in response.topic_errors
    }
    outcomes: dict[str, TopicOutcome] = {}
    raced = []
    for plan in missing:
        code, message = codes.get(plan.name, (0, None))
        if code == 0:
            outcomes[plan.name] = TopicOutcome(plan, "created", plan.partitions)
        elif code == TOPIC_ALREADY_EXISTS:
            raced.append(plan)
        else:
            reason = message or for_code(code).__name__
            outcomes[plan.name] = TopicOutcome(plan, "not created", error=reason)
    for attempt in range(READ_BACK_ATTEMPTS):
        if not raced:
            break
        await asyncio.sleep(0.2 * attempt)
        existing = await _partition_counts(admin)
        for plan in [p for p in raced if p.name in existing]:
            outcomes[plan.name] = _judge(plan, existing[plan.name])
            raced.remove(plan)
    for plan in raced:  # created elsewhere, yet never seen: judged missing
        outcomes[plan.name] = TopicOutcome(plan, "missing")
    return outcomes


def _judge(plan: TopicPlan, partitions: int | None) -> TopicOutcome:
    if partitions is None:
        return TopicOutcome(plan, "missing")
    if partitions < plan.partitions:
        return TopicOutcome(plan, "too few partitions", partitions)
    return TopicOutcome(plan, "present", partitions)


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """Every topic's partition count, from one metadata request that creates nothing."""
    return {
        topic["topic"]: len(topic["partitions"])
        for topic in await admin.describe_topics()
        if topic["error_code"] == 0
    }

"""Which event types exist, which topic each travels on, and how topics are configured.

An event model registers itself with :func:`event_type`; the registry is the single source
for JSON Schemas, the AsyncAPI document and the bus's routing of types to topics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class EventModel(BaseModel):
    """Base of every event ``data`` model: strict about unknown fields, immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Topic:
    """A topic as partners and the bus see it."""

    name: str
    key: str
    description: str
    retention_days: int
    partitions: int = 12
    types: list[str] = field(default_factory=list)

    @property
    def dlq(self) -> str:
        """The dead-letter topic where this topic's poison messages go."""
        return f"{self.name}.dlq"


TOPICS: dict[str, Topic] = {}
EVENT_TYPES: dict[str, type[EventModel]] = {}
_TYPE_TOPIC: dict[str, str] = {}
_MODEL_TYPE: dict[type[BaseModel], str] = {}

M = TypeVar("M", bound=type[EventModel])


def register_topic(topic: Topic) -> Topic:
    """Add a topic to the registry (done once, in ``sextant.contracts.topics``)."""
    if topic.name in TOPICS:
        raise ValueError(f"topic {topic.name!r} registered twice")
    TOPICS[topic.name] = topic
    return topic


def event_type(name: str, *, topic: Topic) -> Callable[[M], M]:
    """Class decorator: register ``name`` (``sextant.<area>.<entity>.<action>.vN``) on ``topic``."""

    def register(model: M) -> M:
        if name in EVENT_TYPES:
            raise ValueError(f"event type {name!r} registered twice")
        EVENT_TYPES[name] = model
        _TYPE_TOPIC[name] = topic.name
        _MODEL_TYPE[model] = name
        topic.types.append(name)
        return model

    return register


def data_model_for(type_name: str) -> type[EventModel]:
    """The model registered for an event type; KeyError names the unknown type."""
    _ensure_loaded()
    try:
        return EVENT_TYPES[type_name]
    except KeyError:
        raise KeyError(f"unknown event type {type_name!r}") from None


def topic_for_type(type_name: str) -> Topic:
    """The topic an event type travels on."""
    _ensure_loaded()
    return TOPICS[_TYPE_TOPIC[type_name]]


def type_of(model: type[BaseModel]) -> str:
    """The registered type name of an event model class."""
    _ensure_loaded()
    return _MODEL_TYPE[model]


def _ensure_loaded() -> None:
    # Importing the events package runs every @event_type decorator exactly once.
    import sextant.contracts.events  # noqa: F401

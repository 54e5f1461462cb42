"""The CloudEvents 1.0 envelope every Sextant event travels in.

On Kafka Sextant uses the CloudEvents Kafka protocol binding in **binary mode**: each
attribute is a ``ce_<name>`` header, the message value is the JSON of ``data`` alone and
``content-type`` is ``application/json``. Partners can route on headers without parsing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sextant.contracts.ids import uuid7
from sextant.contracts.registry import data_model_for, type_of

SPEC_VERSION = "1.0"
_HEADER_PREFIX = "ce_"


class Envelope(BaseModel):
    """One event: CloudEvents attributes, Sextant tenancy extensions and a JSON ``data``.

    ``data`` is kept as a plain JSON object here so the envelope can carry any registered
    type; :func:`sextant.contracts.registry.data_model_for` gives the typed model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = SPEC_VERSION
    id: UUID = Field(default_factory=uuid7)
    source: str = Field(min_length=1, description="URI-reference of the producing service")
    type: str = Field(pattern=r"^sextant\.[a-z_.]+\.v[0-9]+$")
    subject: str | None = Field(default=None, description="the entity the event is about")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    tenantid: UUID
    workspaceid: UUID | None = None
    traceparent: str | None = None
    replayid: UUID | None = Field(
        default=None,
        description="set on an event the archive publishes again: the restore it belongs to",
    )
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _time_is_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone")
        return value

    @classmethod
    def wrap(
        cls,
        data: BaseModel,
        *,
        source: str,
        tenantid: UUID,
        subject: str | None = None,
        workspaceid: UUID | None = None,
        traceparent: str | None = None,
        id: UUID | None = None,
    ) -> Envelope:
        """Build the envelope for a registered event model, filling type and dataschema;
        ``id`` gives it a deterministic id instead of a new one."""
        event_type = type_of(type(data))
        return cls(
            id=id or uuid7(),
            source=source,
            type=event_type,
            subject=subject,
            tenantid=tenantid,
            workspaceid=workspaceid,
            traceparent=traceparent,
            dataschema=f"/v1/events/schemas/{event_type}",
            data=data.model_dump(mode="json"),
        )

    @property
    def inbox_id(self) -> UUID:
        """The id a consumer's inbox records: the event's own, or for a replay the event's
        within its restore, so a restore's redelivery is handled once yet a restore
        rebuilds what a purge removed (the original is long in the inbox)."""
        if self.replayid is None:
            return self.id
        return uuid5(self.replayid, str(self.id))

    def typed_data(self) -> BaseModel:
        """Parse ``data`` into the model registered for ``type``."""
        return data_model_for(self.type).model_validate(self.data)


def to_kafka_binary(envelope: Envelope) -> tuple[list[tuple[str, bytes]], bytes]:
    """Headers and value for the CloudEvents Kafka binding, binary mode."""
    headers = kafka_headers(envelope.model_dump(mode="json", exclude={"data"}))
    return headers, json.dumps(envelope.data, separators=(",", ":")).encode()


def kafka_headers(attributes: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The binary-mode headers for an envelope's attributes (all but ``data``) in their
    JSON form. Shared with the outbox relay, which reads stored envelopes' attributes
    as JSON and sends their ``data`` text as it is, without rebuilding the model."""
    content_type = attributes.get("datacontenttype") or "application/json"
    headers = [("content-type", str(content_type).encode())]
    for name, value in attributes.items():
        if value is not None and name not in ("datacontenttype", "data"):
            headers.append((_HEADER_PREFIX + name, str(value).encode()))
    return headers


def from_kafka_binary(headers: Sequence[tuple[str, bytes]], value: bytes) -> Envelope:
    """Rebuild an envelope from binary-mode headers and a JSON value."""
    attributes: dict[str, Any] = {}
    content_type = "application/json"
    for name, raw in headers:
        if name == "content-type":
            content_type = raw.decode()
        elif name.startswith(_HEADER_PREFIX):
            attributes[name[len(_HEADER_PREFIX) :]] = raw.decode()
    attributes["datacontenttype"] = content_type
    attributes["data"] = json.loads(value)
    return Envelope.model_validate(attributes)

"""Importing this package registers every event type (see ``registry.event_type``)."""

from sextant.contracts.events import activity, common, platform

__all__ = ["activity", "common", "platform"]

"""What a tool's backfill yields: pages of webhook-shaped payloads, each with the cursor
that resumes after it; and what it needs to know where to start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sextant.ingest.backfill.api import Api

DONE = ""  # a checkpoint cursor meaning "this resource is finished"


@dataclass
class Page:
    resource: str  # e.g. "octo-org/octo-repo:pulls"
    cursor: str | None  # where the next page starts; None when the resource is finished
    payloads: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    items: int = 0  # API objects read (a payload may come from several)


Fetch = Callable[[Api, dict[str, Any], datetime, dict[str, str]], AsyncIterator[Page]]


def start_of(resource: str, checkpoint: dict[str, str], first: str) -> str | None:
    """Where to start ``resource``: its saved cursor, ``first`` when new, None when done."""
    saved = checkpoint.get(resource)
    if saved == DONE:
        return None
    return saved or first


def unlisted(credentials: dict[str, Any], name: str) -> list[str]:
    """``[name]`` unless the credentials hold a non-empty list under it (a lone string
    would be read letter by letter)."""
    value = credentials.get(name)
    return [] if isinstance(value, list) and value else [f"{name} (a list)"]

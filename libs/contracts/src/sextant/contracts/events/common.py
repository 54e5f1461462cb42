"""Value models shared by the canonical activity events."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from sextant.contracts.registry import EventModel

SourceKind = Literal["github", "gitlab", "jira", "generic"]
StatusCategory = Literal["todo", "in_progress", "done"]


class SourceRef(EventModel):
    """Where a record came from: the Sextant source connection and the tool's own id and URL."""

    kind: SourceKind
    source_id: UUID = Field(description="the Sextant source connection")
    external_id: str = Field(min_length=1, description="the tool's own id for the record")
    url: str | None = None


class Actor(EventModel):
    """A person or bot as one tool names them: every identifier it gives, for identity."""

    kind: SourceKind
    account_id: str | None = None
    login: str | None = None
    email: str | None = None
    display_name: str | None = None
    is_bot: bool = False


class Repository(EventModel):
    """A repository or project, by the tool's id and its human name."""

    external_id: str
    full_name: str = Field(description="e.g. octo-org/octo-repo or group/sub/project")
    url: str | None = None

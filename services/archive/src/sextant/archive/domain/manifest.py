"""The manifest chain: one entry per cold-store object, each hash covering the entry and
the previous entry's hash, per tenant. Removing, altering or reordering an entry breaks
every hash after it; the recorded head catches the newest entries being removed.

Entries are hashed as canonical JSON (sorted keys, no spaces, times in UTC ISO format),
so the verifier recomputes exactly what the writer hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

GENESIS = "0" * 64


@dataclass(frozen=True)
class ManifestEntry:
    """One object of the cold store, as it is hashed."""

    tenant_id: UUID
    seq: int
    manifest_id: UUID
    topic: str
    day: date
    object_key: str
    event_count: int
    first_event_id: UUID
    last_event_id: UUID
    first_at: datetime
    last_at: datetime
    sha256: str
    size_bytes: int
    schema_versions: tuple[str, ...]
    workspace_ids: tuple[UUID, ...] = ()  # sorted; a legal hold on one covers the object

    def canonical(self) -> bytes:
        body = {
            "tenant_id": str(self.tenant_id),
            "seq": self.seq,
            "manifest_id": str(self.manifest_id),
            "topic": self.topic,
            "day": self.day.isoformat(),
            "object_key": self.object_key,
            "event_count": self.event_count,
            "first_event_id": str(self.first_event_id),
            "last_event_id": str(self.last_event_id),
            "first_at": self.first_at.astimezone(UTC).isoformat(),
            "last_at": self.last_at.astimezone(UTC).isoformat(),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "schema_versions": list(self.schema_versions),
            "workspace_ids": [str(w) for w in self.workspace_ids],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, entry: ManifestEntry) -> str:
    """The hash of ``entry`` following an entry whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + entry.canonical()).hexdigest()


@dataclass(frozen=True)
class ChainedEntry:
    """An entry with the hashes stored beside it."""

    entry: ManifestEntry
    prev_hash: str
    row_hash: str

"""The audit log's hash chain: each row's hash covers its content and the previous
row's hash, so altering, removing or reordering any row breaks every hash after it.

The content is hashed as canonical JSON (sorted keys, no spaces, times in UTC ISO
format), so the verifier recomputes exactly what the writer hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

GENESIS = "0" * 64
PLATFORM_CHAIN = UUID(int=0)  # the chain of changes that belong to no tenant


@dataclass(frozen=True)
class AuditEntry:
    """One row of the log, as it is hashed."""

    tenant_id: UUID
    seq: int
    event_id: UUID
    at: datetime
    service: str
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None

    def canonical(self) -> bytes:
        body = {
            "tenant_id": str(self.tenant_id),
            "seq": self.seq,
            "event_id": str(self.event_id),
            "at": self.at.astimezone(UTC).isoformat(),
            "service": self.service,
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "before": self.before,
            "after": self.after,
            "request_id": self.request_id,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The hash of ``entry`` following a row whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + entry.canonical()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops being what was written, and why."""

    tenant_id: UUID
    seq: int
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """Where a chain starts once its oldest rows were purged: the last purged row's seq and
    hash (the next kept row's ``prev_hash``) and how many rows were purged in all."""

    seq: int
    hash: str
    purged: int


def verify_chain(
    rows: Iterable[tuple[AuditEntry, str, str]],
    head: tuple[int, str] | None,
    start: Checkpoint | None = None,
) -> ChainBreak | None:
    """The first bad row of one tenant's chain, or None when it is intact.

    ``rows`` are (entry, prev_hash, hash) in ``seq`` order; ``head`` is the chain's
    recorded last (seq, hash), which catches the newest rows being removed; ``start`` is
    the checkpoint the chain continues from after a purge (the first kept row must follow
    it: removing a kept row or altering the checkpoint breaks the chain there)."""
    expected_prev, expected_seq = GENESIS, 1
    tenant: UUID | None = None
    last: tuple[int, str] | None = None
    if start is not None:
        expected_prev, expected_seq = start.hash, start.seq + 1
        last = (start.seq, start.hash)
    for entry, prev_hash, stored_hash in rows:
        tenant = entry.tenant_id
        if entry.seq != expected_seq:
            return ChainBreak(tenant, expected_seq, f"row {expected_seq} is missing")
        if prev_hash != expected_prev:
            return ChainBreak(tenant, entry.seq, "its previous hash does not match the row before")
        if chain_hash(prev_hash, entry) != stored_hash:
            return ChainBreak(tenant, entry.seq, "its content does not match its hash")
        expected_prev, expected_seq = stored_hash, entry.seq + 1
        last = (entry.seq, stored_hash)
    if head is not None and last != head:
        where = head[0] if last is None or last[0] < head[0] else last[0]
        return ChainBreak(
            tenant or PLATFORM_CHAIN, where, f"the chain's recorded head is row {head[0]}"
        )
    return None

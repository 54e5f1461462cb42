"""Verifying the cold store: every object is there, holds the bytes its manifest entry
hashed, the number of events it counted and the first and last event ids it named, and
the manifest chain itself is unbroken. Pure: the caller fetches each object's bytes.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sextant.archive.domain.manifest import GENESIS, ChainedEntry, chain_hash
from sextant.archive.domain.parts import read_part_ids


class Unreadable(enum.Enum):
    """Why an object's bytes could not be had."""

    MISSING = "the object is missing from the store"
    CORRUPT = "the object does not match the store's own checksum (altered)"


@dataclass(frozen=True)
class Finding:
    """One thing wrong, at one manifest entry."""

    seq: int
    object_key: str
    reason: str


def check_chain(rows: Iterable[ChainedEntry], head: tuple[int, str] | None) -> list[Finding]:
    """Every break in one tenant's chain. ``rows`` in ``seq`` order; ``head`` is the
    chain's recorded last (seq, hash), which catches the newest entries being removed."""
    findings: list[Finding] = []
    expected_prev, expected_seq = GENESIS, 1
    last: tuple[int, str] | None = None
    for row in rows:
        entry = row.entry
        if entry.seq != expected_seq:
            findings.append(Finding(expected_seq, "", f"manifest entry {expected_seq} is missing"))
        elif row.prev_hash != expected_prev:
            findings.append(
                Finding(
                    entry.seq, entry.object_key, "its previous hash does not match the entry before"
                )
            )
        if chain_hash(row.prev_hash, entry) != row.row_hash:
            findings.append(
                Finding(
                    entry.seq, entry.object_key, "the manifest entry was altered (hash mismatch)"
                )
            )
        expected_prev, expected_seq = row.row_hash, entry.seq + 1
        last = (entry.seq, row.row_hash)
    if head is not None and last != head:
        findings.append(
            Finding(
                head[0], "", f"the chain's recorded head is entry {head[0]}, not {last and last[0]}"
            )
        )
    return findings


def check_object(row: ChainedEntry, fetched: bytes | Unreadable) -> Finding | None:
    """What is wrong with one object against its manifest entry, or None."""
    entry = row.entry

    def bad(reason: str) -> Finding:
        return Finding(entry.seq, entry.object_key, reason)

    if isinstance(fetched, Unreadable):
        return bad(fetched.value)
    digest = hashlib.sha256(fetched).hexdigest()
    if digest != entry.sha256:
        return bad(f"its SHA-256 is {digest}, the manifest says {entry.sha256} (altered)")
    try:
        ids = read_part_ids(fetched).ids
    except ValueError as exc:
        return bad(str(exc))
    if len(ids) != entry.event_count:
        return bad(f"it holds {len(ids)} events, the manifest says {entry.event_count}")
    if ids and (ids[0], ids[-1]) != (str(entry.first_event_id), str(entry.last_event_id)):
        return bad(
            f"its events run {ids[0]}..{ids[-1]}, the manifest says "
            f"{entry.first_event_id}..{entry.last_event_id}"
        )
    return None


def first_finding(findings: Iterable[Finding]) -> Finding | None:
    """The finding at the earliest entry (the first bad object a report names)."""
    return min(findings, key=lambda f: f.seq, default=None)

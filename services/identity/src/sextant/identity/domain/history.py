"""Merge history and memberships over time: what a split restores, which memberships
overlap, who is a member on a day (no I/O here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True)
class PastMerge:
    """``merged_id`` was merged into a developer while holding ``alias_ids``."""

    merged_id: UUID
    alias_ids: frozenset[UUID]
    merged_at: datetime
    still_merged: bool  # not revived by a split since


def restored_by_split(merges: Iterable[PastMerge], alias_ids: Iterable[UUID]) -> UUID | None:
    """The merged-away developer a split of exactly ``alias_ids`` brings back, if any:
    the most recent merge that brought exactly these aliases in. Anything else is a new
    developer."""
    wanted = frozenset(alias_ids)
    matching = [m for m in merges if m.still_merged and m.alias_ids == wanted]
    if not matching:
        return None
    return max(matching, key=lambda m: m.merged_at).merged_id


@dataclass(frozen=True)
class Span:
    """A membership's days, ``ends_on`` inclusive; None: ongoing."""

    starts_on: date
    ends_on: date | None

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def overlaps(self, other: Span) -> bool:
        return (other.ends_on is None or self.starts_on <= other.ends_on) and (
            self.ends_on is None or other.starts_on <= self.ends_on
        )


def first_overlap(existing: Sequence[tuple[UUID, Span]], new: Span) -> UUID | None:
    """The id of an existing membership whose days overlap ``new``, if any."""
    return next((mid for mid, span in existing if span.overlaps(new)), None)

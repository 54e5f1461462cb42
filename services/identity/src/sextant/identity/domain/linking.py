"""Where a new alias goes: which developer it joins, which developers its keys merge, and
which links are only suggested for a person to confirm or reject.

The rules, over the live developers already holding one of the alias's keys (oldest
first):

- a link scores the lower of the two sides of its best shared key; a name (or a login
  spelling one) scores by the evidence around it instead (``evidence.name_link``), and
  the evidence is recorded with the merge or suggestion it makes;
- a link at or above the auto-merge threshold is *strong*; to a locked developer only an
  exact identifier (an account id, a login, an email) is strong;
- the alias joins its best strong holder, and the other strong holders merge with it
  unless one of them is locked or a person kept the pair apart — the oldest of the group
  survives, so developer ids stay stable;
- every other holder is suggested as a merge with the alias's developer, unless a person
  kept the pair apart or the pair is already suggested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from uuid import UUID

from sextant.identity.domain.keys import AUTO_MERGE_SCORE, EXACT_SCORE, Key, unrelated_names

Pair = frozenset[UUID]


@dataclass(frozen=True)
class Holder:
    """A live developer holding some of the new alias's keys, with what it shares."""

    developer_id: UUID
    locked: bool
    shared: tuple[Key, ...]  # each shared key, scored as the link it makes

    @property
    def best(self) -> Key:
        return max(self.shared, key=lambda k: k.score)


@dataclass(frozen=True)
class Suggestion:
    """Merge the alias's developer with ``developer_id``? A person decides."""

    developer_id: UUID
    rule: str
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    joins: UUID | None  # None: the alias starts a new developer
    merged: tuple[UUID, ...]  # developers merged into ``joins``
    rule: str | None  # the rule and score of the weakest merging link
    score: float | None
    suggestions: tuple[Suggestion, ...]
    link: Key | None = None  # the alias's own link to ``joins``, its evidence spelled out


def shared_links(
    alias_keys: Iterable[Key], held: Iterable[tuple[str, float, str]]
) -> tuple[Key, ...]:
    """The links ``alias_keys`` make with a developer holding keys ``held`` (value, score,
    rule): each scored, and named, by the weaker of its two sides."""
    theirs: dict[str, Key] = {}
    for value, score, rule in held:
        if value not in theirs or score > theirs[value].score:
            theirs[value] = Key(value, score, rule)
    return tuple(
        k if k.score <= theirs[k.value].score else theirs[k.value]
        for k in alias_keys
        if k.value in theirs
    )


def is_strong(holder: Holder) -> bool:
    score = holder.best.score
    return score >= (EXACT_SCORE if holder.locked else AUTO_MERGE_SCORE)


def place(
    holders: Sequence[Holder], kept_apart: Set[Pair], pending: Set[Pair] = frozenset()
) -> Placement:
    """Decide where the alias goes (``holders`` oldest first; see the module's rules)."""
    holders = [h for h in holders if h.shared]
    order = {h.developer_id: i for i, h in enumerate(holders)}
    strong = [h for h in holders if is_strong(h)]
    if not strong:
        return Placement(None, (), None, None, tuple(_suggest(h) for h in holders))
    anchor = max(strong, key=lambda h: (h.best.score, -order[h.developer_id]))
    group = [anchor]
    for holder in strong:
        if holder is anchor or holder.locked or any(g.locked for g in group):
            continue
        if not _apart(holder, group, kept_apart):
            group.append(holder)
    survivor = min(group, key=lambda h: order[h.developer_id])
    merged = sorted((h for h in group if h is not survivor), key=lambda h: order[h.developer_id])
    suggestions = tuple(
        _suggest(h)
        for h in holders
        if h not in group
        and not _apart(h, group, kept_apart)
        and frozenset((survivor.developer_id, h.developer_id)) not in pending
    )
    weakest = min(merged, key=lambda h: h.best.score) if merged else None
    return Placement(
        survivor.developer_id,
        tuple(h.developer_id for h in merged),
        _explained(weakest.best) if weakest else None,
        weakest.best.score if weakest else None,
        suggestions,
        Key(survivor.best.value, survivor.best.score, _explained(survivor.best)),
    )


def _apart(holder: Holder, group: Iterable[Holder], kept_apart: Set[Pair]) -> bool:
    return any(frozenset((holder.developer_id, g.developer_id)) in kept_apart for g in group)


def _explained(link: Key) -> str:
    """A link's rule with the evidence it was scored on, as a merge records it."""
    return f"{link.rule} ({'; '.join(link.evidence)})" if link.evidence else link.rule


def _suggest(holder: Holder) -> Suggestion:
    """The shared keys first, then what the best link was scored on."""
    best = holder.best
    return Suggestion(
        holder.developer_id,
        best.rule,
        best.score,
        (*sorted(k.value for k in holder.shared), *best.evidence),
    )


@dataclass(frozen=True)
class SplitSuggestion:
    """Move ``alias_ids`` out of ``developer_id``? A person decides."""

    developer_id: UUID
    alias_ids: tuple[UUID, ...]
    evidence: tuple[str, ...]


def splits_at_shared_address(
    address: str, seen: Sequence[tuple[UUID, UUID, str | None]], names: Iterable[str]
) -> list[SplitSuggestion]:
    """An address found shared (``names``, :func:`keys.is_shared_address`) may have merged
    different people before it was: for each developer holding aliases of it (``seen``:
    alias, developer, normalized name; oldest first) under names of different people,
    suggest moving out those not spelling its oldest alias's name. Only suggested, never
    undone silently: the merge may have rested on other evidence too."""
    groups = unrelated_names(names)
    group_of = {name: i for i, group in enumerate(groups) for name in group}
    by_developer: dict[UUID, list[tuple[UUID, int | None]]] = {}
    for alias_id, developer_id, name in seen:
        by_developer.setdefault(developer_id, []).append(
            (alias_id, group_of.get(name) if name else None)
        )
    shown = ", ".join(sorted(names))
    suggestions = []
    for developer_id, held in by_developer.items():
        kept = held[0][1]
        out = tuple(a for a, group in held if group is not None and group != kept)
        if kept is not None and out:
            evidence = (address, f"seen under {len(groups)} unrelated names: {shown}")
            suggestions.append(SplitSuggestion(developer_id, out, evidence))
    return suggestions

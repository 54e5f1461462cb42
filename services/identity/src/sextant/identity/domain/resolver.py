"""Batch resolution: aliases in, people out (union-find over shared keys).

The service applies the same keys one event at a time against the database; this batch
form is what the evaluation and the 100,000-alias benchmark run. One more guard exists
only here, where the whole population is visible: an address used under many different
full names is a relay, however ordinary it looks, and makes no key.
"""

from __future__ import annotations

from collections import defaultdict

from sextant.contracts.events.common import Actor
from sextant.identity.domain.keys import AUTO_MERGE_SCORE, keys_for, normalize_email, normalize_name

RELAY_NAMES = 4  # distinct full names on one address that make it a relay


class Resolver:
    """``auto_merge_score``: the weakest link that merges on its own (raise it to 1.0 and
    names only suggest, never merge: the eval bench measures what that costs)."""

    def __init__(self, auto_merge_score: float = AUTO_MERGE_SCORE) -> None:
        self.auto_merge_score = auto_merge_score
        self._parent: list[int] = []
        self._owner: dict[str, int] = {}

    def _find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def resolve(self, actors: list[Actor]) -> list[int]:
        """A person id (a small int) for each actor, same id = same person."""
        relays = _relays(actors)
        self._parent = list(range(len(actors)))
        self._owner = {}
        for i, actor in enumerate(actors):
            for key in keys_for(actor):
                if (
                    key.score < self.auto_merge_score
                    or key.value.removeprefix("bot|").removeprefix("email:") in relays
                ):
                    continue
                other = self._owner.setdefault(key.value, i)
                a, b = self._find(i), self._find(other)
                if a != b:
                    self._parent[max(a, b)] = min(a, b)
        return [self._find(i) for i in range(len(actors))]


def _relays(actors: list[Actor]) -> set[str]:
    names: dict[str, set[str]] = defaultdict(set)
    for actor in actors:
        email, name = normalize_email(actor.email), normalize_name(actor.display_name)
        if email and name:
            names[email].add(name)
    return {email for email, seen in names.items() if len(seen) >= RELAY_NAMES}

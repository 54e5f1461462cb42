"""Batch resolution: aliases in, people out (union-find over shared keys).

The service applies the same keys and the same name evidence one event at a time against
the database; this batch form is what the evaluation and the 100,000-alias benchmark run.
An exact identifier merges on its own; a shared name merges when
:func:`~sextant.identity.domain.evidence.name_link` scores some pair of aliases carrying
it at or above the threshold, judged against the whole population's names. An address
seen under several unrelated names (:func:`~sextant.identity.domain.keys.is_shared_address`,
the rule the service applies to the names it has seen at each address) is shared, however
ordinary it looks, and makes no key.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from sextant.contracts.events.common import Actor
from sextant.identity.domain.evidence import (
    AliasFacts,
    NamePopulation,
    domain_of,
    is_name_key,
    name_link,
)
from sextant.identity.domain.keys import (
    AUTO_MERGE_SCORE,
    Key,
    address_keys,
    is_shared_address,
    keys_for,
    normalize_email,
    normalize_name,
)


@dataclasses.dataclass(frozen=True)
class Union:
    """Two aliases put together, and the link that did it."""

    a: int
    b: int
    link: Key


class Resolver:
    """``auto_merge_score``: the weakest link that merges on its own (raise it to 1.0 and
    names only suggest, never merge). ``name_evidence=False`` scores every name link by
    its key alone, as before evidence was weighed (the eval bench's comparison row)."""

    def __init__(self, auto_merge_score: float = AUTO_MERGE_SCORE, *, name_evidence: bool = True):
        self.auto_merge_score = auto_merge_score
        self.name_evidence = name_evidence
        self.unions: list[Union] = []
        self.suggested: list[Union] = []  # name links too weak to merge: a person decides
        self._parent: list[int] = []

    def _find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    def _union(self, i: int, j: int, link: Key) -> None:
        a, b = self._find(i), self._find(j)
        if a != b:
            self._parent[max(a, b)] = min(a, b)
            self.unions.append(Union(j, i, link))

    def resolve(self, actors: list[Actor]) -> list[int]:
        """A person id (a small int) for each actor, same id = same person."""
        relays = _relays(actors)
        facts: dict[int, AliasFacts] = {}
        population = NamePopulation.of(
            (name, domain_of(actor.email))
            for actor in actors
            if (name := normalize_name(actor.display_name))
        )
        self._parent = list(range(len(actors)))
        self.unions, self.suggested = [], []
        owner: dict[str, int] = {}
        carriers: dict[str, list[tuple[int, Key]]] = defaultdict(list)
        for i, actor in enumerate(actors):
            email = normalize_email(actor.email)
            shared = (
                address_keys(email, normalize_name(actor.display_name))
                if email in relays and email is not None
                else set()
            )
            for key in keys_for(actor):
                if key.value.removeprefix("bot|") in shared:
                    continue
                if self.name_evidence and is_name_key(key.value):
                    if i not in facts:
                        facts[i] = _facts(actor, relays)
                    self._link_by_name(i, key, carriers[key.value], facts, population)
                    carriers[key.value].append((i, key))
                elif key.score >= self.auto_merge_score:
                    self._union(i, owner.setdefault(key.value, i), key)
        return [self._find(i) for i in range(len(actors))]

    def _link_by_name(
        self,
        i: int,
        key: Key,
        carriers: list[tuple[int, Key]],
        facts: dict[int, AliasFacts],
        population: NamePopulation,
    ) -> None:
        """Join ``i`` to each person carrying ``key`` that some pair scores strongly enough."""
        for j, theirs in carriers:
            if self._find(j) == self._find(i):
                continue
            weaker = key if key.score <= theirs.score else theirs
            link = name_link(weaker, facts[i], facts[j], population, explain=False)
            if link.score >= self.auto_merge_score:
                self._union(i, j, name_link(weaker, facts[i], facts[j], population))
            else:
                self.suggested.append(Union(j, i, link))


def _facts(actor: Actor, relays: set[str]) -> AliasFacts:
    facts = AliasFacts.of(actor)
    if normalize_email(actor.email) in relays:
        facts = dataclasses.replace(facts, handles=frozenset(), domain=None)
    return facts


def _relays(actors: list[Actor]) -> set[str]:
    names: dict[str, set[str]] = defaultdict(set)
    for actor in actors:
        email, name = normalize_email(actor.email), normalize_name(actor.display_name)
        if email and name:
            names[email].add(name)
    return {email for email, seen in names.items() if is_shared_address(seen)}

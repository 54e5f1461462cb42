"""How much a shared name says: the score of a name link from the evidence around it.

Two aliases that share a name are the same person unless someone else in the tenant has
that name too. So a name link is scored as odds: the prior that a person shows up under a
second alias with the same name, over the number of *other* people the tenant's own
population predicts to carry the name (its tokens' frequencies among the tenant's distinct
names, multiplied: a rare surname with a rare given name is a fingerprint, "David Smith"
in a large tenant is not, a single word never is). Corroboration multiplies the odds up
(the same email local part at another host, the same non-freemail domain); identifiers
that contradict each other (two different accounts in one tool) divide them down. The
score is odds / (1 + odds), never an identifier's 1.0: a name never reaches a locked
developer. Nothing here is fitted to a corpus: the factors are round a-priori values and
the eval bench shows how the result moves when they move.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sextant.contracts.events.common import Actor
from sextant.identity.domain.keys import (
    MIDDLE_NAME_SCORE,
    Key,
    github_noreply,
    is_relay,
    keys_for,
    normalize_email,
    normalize_name,
)

# A person seen under two aliases carries the same name on both about half the time
# (odds 0.5 a priori): a name link merges on its own when fewer than ~0.17 other people
# are expected to carry the name.
PRIOR_ODDS = 0.5
# Until a tenant has seen many names, a token's frequency is judged as if among this many
# more names that do not carry it: a tenant of five people has no homonyms to fear.
BACKGROUND_NAMES = 100
# A single word carried by no other name of the tenant is a handle someone coined; one
# that other names carry ("daniel") is a given name, and each of them a possible owner.
SINGLE_WORD_OTHERS = 0.1
SAME_HANDLE = 10.0  # one handle on both sides: an email local part or a GitHub login
# Two addresses at one (non-freemail) organisation: a person's aliases share it about half
# the time, two other people as often as the domain's share of the tenant's names — so
# the domain most of a tenant works at says nothing, a small one says up to SAME_DOMAIN.
DOMAIN_PRIOR = 0.5
SAME_DOMAIN = 10.0
# Two different accounts (or logins) in one tool: people keep one, so however rare the
# name, a person decides — the link is capped below the auto-merge threshold.
CONFLICTING_IDS_CAP = 0.5
# One side has middle names the other lacks ("John Ronald Smith", "John Smith"): scored
# from the same evidence, but never above the key's own score, so it is only suggested
# (the eval bench measured merging these as no gain).
MAX_NAME_SCORE = 0.95

FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "foxmail.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "users.noreply.github.com",
        "users.noreply.gitlab.com",
    }
)
_SECOND_LEVEL = frozenset({"co", "ac", "com", "edu", "org", "net", "gov", "or", "ne"})
NAME_CLASS = ("name:", "handle:")


def is_name_key(value: str) -> bool:
    """A key made from a name (or a login spelling one), scored by evidence, not fixed."""
    return value.removeprefix("bot|").startswith(NAME_CLASS)


@dataclass(frozen=True)
class AliasFacts:
    """What an alias offers to corroborate or contradict a name."""

    name: str | None
    handles: frozenset[str]  # email local part and logins, lowercase, punctuation dropped
    domain: str | None  # the registered domain, freemail and relays left out
    ids: frozenset[tuple[str, str]]  # (namespace, value): one account per tool

    @classmethod
    def of(cls, actor: Actor) -> AliasFacts:
        ids: set[tuple[str, str]] = set()
        if actor.account_id:
            ids.add((f"{actor.kind} account", actor.account_id))
        if actor.kind == "github" and actor.login:
            ids.add(("github login", actor.login.lower()))
        email = normalize_email(actor.email)
        domain = None
        github_login = actor.login if actor.kind == "github" else None
        handles = {_squeeze(github_login)} if github_login else set()
        if email:
            noreply = github_noreply(email)
            if noreply is not None:
                user_id, login = noreply
                ids.add(("github login", login))
                handles.add(_squeeze(login))
                if user_id:
                    ids.add(("github account", user_id))
            elif not is_relay(email):
                handles.add(_squeeze(email.rpartition("@")[0].split("+", 1)[0]))
                domain = domain_of(email)
        name = normalize_name(actor.display_name)
        return cls(name, frozenset(h for h in handles if len(h) >= 3), domain, frozenset(ids))


def _squeeze(handle: str) -> str:
    return re.sub(r"[^a-z0-9]", "", handle.lower())


def domain_of(email: str | None) -> str | None:
    """The organisation an address belongs to (its registered domain), or None for no
    address, a relay, a freemail provider or a GitHub noreply address."""
    email = normalize_email(email)
    if not email or is_relay(email) or github_noreply(email):
        return None
    registered = registered_domain(email.rpartition("@")[2])
    return None if registered in FREEMAIL else registered


def registered_domain(host: str) -> str:
    """``mail.cs.example.ac.uk`` → ``example.ac.uk``; ``lists.example.org`` → ``example.org``."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass(frozen=True)
class NamePopulation:
    """The tenant's distinct full names: how many, how many carry each token, and how many
    were seen at each email domain."""

    names: int
    tokens: Mapping[str, int]
    at_domain: Mapping[str, int] = field(default_factory=dict)  # distinct names per domain
    with_domain: int = 0  # distinct (name, domain) pairs
    _others: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, named: Iterable[tuple[str, str | None]]) -> NamePopulation:
        """From (name, registered domain or None) of every alias."""
        pairs = set(named)
        distinct = {name for name, _ in pairs}
        counts: dict[str, int] = {}
        for name in distinct:
            for token in set(name.split()):
                counts[token] = counts.get(token, 0) + 1
        at_domain: dict[str, int] = {}
        for _, domain in pairs:
            if domain:
                at_domain[domain] = at_domain.get(domain, 0) + 1
        return cls(len(distinct), counts, at_domain, sum(at_domain.values()))

    def domain_odds(self, domain: str) -> float:
        """How much more likely one person than two explains a shared domain."""
        share = max(self.at_domain.get(domain, 0), 1) / max(self.with_domain, 1)
        return min(max(DOMAIN_PRIOR / share, 1.0), SAME_DOMAIN)

    def expected_others(self, name: str) -> float:
        """How many other people of the tenant are expected to carry ``name``."""
        known = self._others.get(name)
        if known is None:
            known = self._others[name] = self._expected_others(name)
        return known

    def _expected_others(self, name: str) -> float:
        tokens = name.split()  # "Thomas Thomas" is two words, as rare as each twice
        if len(tokens) == 1:
            return max(self.tokens.get(name, 0), 1) - 1 + SINGLE_WORD_OTHERS
        scale = self.names + BACKGROUND_NAMES
        share = math.prod(max(self.tokens.get(t, 0), 1) / scale for t in tokens)
        return max(self.names, 1) * share


def name_link(
    key: Key, a: AliasFacts, b: AliasFacts, population: NamePopulation, *, explain: bool = True
) -> Key:
    """The link two aliases make through the name-class ``key`` they share, scored by the
    evidence, which ``evidence`` spells out (left empty unless ``explain``)."""
    value = key.value.removeprefix("bot|")
    named = value.removeprefix("name:").removeprefix("handle:")
    name = named if value.startswith("name:") else _spelled_by(named, a, b)
    # A handle that spells neither side's name (a mailbox or a login: "schnaitterm") is a
    # word someone coined, judged like a single-word name: by how many names carry it.
    others = population.expected_others(name or named)
    odds = PRIOR_ODDS / max(others, 1e-9)
    middle = key.score <= MIDDLE_NAME_SCORE  # one side's name is longer
    # The shared handle corroborates a name; it cannot corroborate itself.
    handles = (a.handles & b.handles) - ({named} if name is None else set())
    domain = a.domain if a.domain and a.domain == b.domain else None
    conflicts = [ns for ns, v in a.ids if (ns, v) not in b.ids and ns in _spaces(b.ids)]
    if name is None and _different_full_names(a.name, b.name):
        conflicts.append("full name")  # "contact@" at two people's own domains
    odds *= (SAME_HANDLE if handles else 1.0) * (population.domain_odds(domain) if domain else 1.0)
    cap = min(
        CONFLICTING_IDS_CAP if conflicts else MAX_NAME_SCORE,
        MIDDLE_NAME_SCORE if middle else MAX_NAME_SCORE,
    )
    score = round(min(odds / (1 + odds), cap), 3)
    if not explain:
        return Key(key.value, score, key.rule)
    seen = f"{population.names} name{'' if population.names == 1 else 's'} seen so far"
    evidence = [f"{others:.2g} others expected to carry the name among {seen}"]
    evidence += ["middle names differ"] if middle else []
    evidence += [f"same handle {min(handles)}"] if handles else []
    if domain:
        evidence.append(f"same email domain {domain} (x{population.domain_odds(domain):.2g})")
    evidence += [f"different {ns}" for ns in sorted(set(conflicts))]
    return Key(key.value, score, key.rule, tuple(evidence))


def _spaces(ids: frozenset[tuple[str, str]]) -> set[str]:
    return {ns for ns, _ in ids}


def _different_full_names(a: str | None, b: str | None) -> bool:
    """Two full names (two words or more) with different surnames: two people, whatever
    handle they share ("Dustin Sallings", "Dustin Spicuzza"); "Matt Kraai" and "Matthew
    Kraai" may be one."""
    return bool(a and b and " " in a and " " in b and a.split()[-1] != b.split()[-1])


def _spelled_by(handle: str, a: AliasFacts, b: AliasFacts) -> str | None:
    """The full name a handle spells, the longer if both sides spell it ("Sam Lubelsky"
    rather than "samlubelsky": the words of a name say how rare it is)."""
    names = [n for n in (a.name, b.name) if n and n.replace(" ", "") == handle]
    return max(names, key=lambda n: n.count(" "), default=None)


def best_name_link(alias: Actor, others: Iterable[Actor], population: NamePopulation) -> Key | None:
    """The strongest name link between ``alias`` and any of ``others`` as ``population``
    weighs it today: what a link judged against a smaller population is worth now (a
    tenant's first names are judged among few names). None when they share no name key."""
    mine = {k.value: k for k in keys_for(alias) if is_name_key(k.value)}
    facts = AliasFacts.of(alias)
    best: Key | None = None
    for other in others:
        theirs = AliasFacts.of(other)
        for key in keys_for(other):
            own = mine.get(key.value)
            if own is None:
                continue
            weaker = own if own.score <= key.score else key
            link = name_link(weaker, facts, theirs, population)
            if best is None or link.score > best.score:
                best = link
    return best

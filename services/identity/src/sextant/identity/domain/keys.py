"""Match keys: an alias is linked to every other alias that shares one of its keys.

Each key carries the rule that made it and a score. Exact identifiers (an account id in
one tool, a GitHub login, an email address) score 1.0; a full name scores below, because
different people share names; a first and last name with the middle names left out
scores below the auto-merge threshold, so it is suggested, never merged on its own. A
link between two aliases scores the lower of its two sides. Shared and relay addresses
(``noreply@github.com``, GitGitGadget, role mailboxes) make no key at all, so they never
merge different people; bots get keys of their own namespace, so a bot never merges
with a human.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from sextant.contracts.events.common import Actor

AUTO_MERGE_SCORE = 0.75  # links at or above merge on their own; below, they are suggested
EXACT_SCORE = 1.0  # an identifier, not a name: the only links that reach a locked developer
NAME_SCORE = 0.8
# "John Ronald Smith" and "John Smith": the same person often enough to ask, too often
# not to merge on its own (the eval bench measures a merge here as a loss).
MIDDLE_NAME_SCORE = 0.6

_VIA = re.compile(r"\s+via\s+\S.*$", re.IGNORECASE)
_NOREPLY = re.compile(
    r"^(?:(\d+)\+)?([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)@users\.noreply\.github\.com$"
)
RELAY_LOCAL_PARTS = frozenset(
    {
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "notifications",
        "gitgitgadget",
        "root",
        "admin",
        "info",
        "support",
        "team",
        "dev",
        "devnull",
        "nobody",
        "unknown",
        "git",
        "github",
        "gitlab",
        "jira",
        "ci",
        "build",
        "builder",
        "jenkins",
        "buildbot",
        "actions",
        "mailer-daemon",
        "postmaster",
        "none",
        "user",
        "test",
    }
)
RELAY_DOMAINS = frozenset({"localhost", "localhost.localdomain", "(none)", "example.com", "none"})


@dataclass(frozen=True)
class Key:
    value: str
    score: float
    rule: str
    evidence: tuple[str, ...] = ()  # what a name link was scored on (domain/evidence.py)


def normalize_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.strip().strip("<>").lower() or None


def mailbox(email: str) -> str:
    """The mailbox an address delivers to: a subaddress (``jay+git@…``, RFC 5233) is the
    same person's mailbox as ``jay@…``, so both make one key."""
    local, _, domain = email.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def is_relay(email: str, name: str | None = None) -> bool:
    """A shared, role or relay address: it names a system or a group, not one person.
    A role word at a domain that spells the person's own ``name`` (normalized) is theirs:
    ``git@srimukh.com`` of Srimukh Sripada is a personal address, not a relay."""
    local, _, domain = email.rpartition("@")
    local = local.split("+", 1)[0]
    return (
        (local in RELAY_LOCAL_PARTS and not _spells_owner(domain, name))
        or domain in RELAY_DOMAINS
        or domain.endswith(".local")
        or "." not in domain
        or local.endswith(("-bot", "[bot]", "-noreply", "-no-reply"))
    )


def _spells_owner(domain: str, name: str | None) -> bool:
    """Does the domain's leading label spell ``name``: the whole name run together, or one
    of its words of at least five letters (a given name or surname, not an initial)?"""
    if not name or domain in RELAY_DOMAINS:
        return False
    label = domain.split(".", 1)[0]
    words = name.split()
    return label == "".join(words) or (len(label) >= 5 and label in words)


# Unrelated names under which one address must be seen before it counts as shared (a
# family's, a team's or a tool's): one person's address shows two or three spellings of
# them (the eval bench lost right pairs when two unrelated names were enough).
SHARED_ADDRESS_NAMES = 4


def is_shared_address(names: Iterable[str]) -> bool:
    """Is an address seen under these (normalized) names a shared one, never a merge key?
    The one rule of the batch resolver and the service: names that are one person's
    spellings of each other count once (:func:`same_person_spellings`)."""
    return len(unrelated_names(names)) >= SHARED_ADDRESS_NAMES


def unrelated_names(names: Iterable[str]) -> list[set[str]]:
    """``names`` grouped so that spellings of one person's name share a group."""
    groups: list[set[str]] = []
    for name in sorted(set(names)):
        joined = [g for g in groups if any(same_person_spellings(name, n) for n in g)]
        merged = {name}.union(*joined)
        groups = [g for g in groups if g not in joined] + [merged]
    return groups


def same_person_spellings(a: str, b: str) -> bool:
    """Could two normalized names be one person's: one has words the other leaves out
    ("john ronald smith", "john smith"), one given name shortens the other's under the same
    surname ("matt kraai", "matthew kraai"), or one is the other run together as a handle
    ("lev abalkin", "levabalkin")?"""
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return True
    wa, wb = a.split(), b.split()
    if set(wa) <= set(wb) or set(wb) <= set(wa):
        return True
    if len(wa) >= 2 and len(wb) >= 2 and wa[-1] == wb[-1]:
        return wa[0].startswith(wb[0]) or wb[0].startswith(wa[0])
    return False


def mailbox_handle(email: str) -> str:
    """The handle an address's mailbox spells: ``schnaitterm@ucf.edu`` → schnaitterm."""
    return re.sub(r"[-_.]", "", mailbox(email).rpartition("@")[0])


def address_keys(email: str, name: str | None) -> set[str]:
    """The keys an address gives an alias named ``name`` (normalized): what a shared
    address takes away — its email key, and its mailbox as a handle unless the name
    spells it anyway."""
    handle = mailbox_handle(email)
    spelled = name is not None and name.replace(" ", "") == handle
    return {f"email:{mailbox(email)}", *([] if spelled else [f"handle:{handle}"])}


def github_noreply(email: str) -> tuple[str | None, str] | None:
    """``<id>+<login>@users.noreply.github.com`` or ``<login>@…``: (id, login)."""
    match = _NOREPLY.match(email)
    return (match.group(1), match.group(2)) if match else None


@lru_cache(maxsize=65_536)  # pure, and asked of each alias several times
def normalize_name(name: str | None) -> str | None:
    """Case, accents and transliteration folded; "Last, First" reordered; initials and
    punctuation dropped. None unless two name parts remain, or one long handle that is not
    a role name ("root", "admin", …)."""
    if not name:
        return None
    name = _VIA.sub("", name)  # "Derrick Stolee via GitGitGadget": the person, not the relay
    if name.count(",") == 1:
        last, first = (part.strip() for part in name.split(","))
        if last and first:
            name = f"{first} {last}"
    folded = unicodedata.normalize("NFKD", name.casefold())
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    ascii_only = ascii_only.replace("ß", "ss").replace("ø", "o").replace("đ", "d").replace("ł", "l")
    words = [p for p in re.split(r"[^a-z0-9]+", ascii_only) if p and not p.isdigit()]
    parts = [p for p in words if len(p) > 1]
    if len(parts) >= 2:
        return " ".join(parts)
    # One word: a handle ("charris") identifies someone when it is long and not a role.
    if len(words) == 1 and len(words[0]) >= 5 and words[0] not in RELAY_LOCAL_PARTS:
        return words[0]
    return None


def keys_for(actor: Actor) -> list[Key]:
    """Every key this alias is known by."""
    keys: list[Key] = []
    if actor.account_id:
        keys.append(
            Key(f"account:{actor.kind}:{actor.account_id}", 1.0, f"same {actor.kind} account")
        )
    if actor.kind == "github" and actor.login:
        keys.append(Key(f"github-login:{actor.login.lower()}", 1.0, "same GitHub login"))
    email = normalize_email(actor.email)
    name = normalize_name(actor.display_name)
    noreply = github_noreply(email) if email else None
    # Folded and judged once: the name decides whether a role word is the owner's address.
    personal = email is not None and noreply is None and not is_relay(email, name)
    if email:
        if noreply is not None:
            user_id, login = noreply
            keys.append(Key(f"github-login:{login}", 1.0, "GitHub noreply address of the login"))
            if user_id:
                keys.append(
                    Key(f"account:github:{user_id}", 1.0, "GitHub noreply address of the account")
                )
        elif personal:
            keys.append(Key(f"email:{mailbox(email)}", 1.0, "same email address"))
    if name:
        keys.append(Key(f"name:{name}", NAME_SCORE, "same full name"))
        parts = name.split()
        if len(parts) >= 3:
            keys.append(
                Key(
                    f"name:{parts[0]} {parts[-1]}",
                    MIDDLE_NAME_SCORE,
                    "same first and last name, middle names differ",
                )
            )
    # A handle ties a login to the name it spells: "Colin Snyder" and the GitHub login
    # colinsnyder (often seen only through a noreply address).
    handles = {name.replace(" ", "")} if name else set()
    logins = [actor.login] if actor.kind == "github" and actor.login else []
    if noreply is not None:
        logins.append(noreply[1])
    handles |= {re.sub(r"[-_.]", "", login.lower()) for login in logins}
    # The local part of a personal address is a handle too: "schnaitterm@ucf.edu" and the
    # GitHub login schnaitterm; evidence.name_link judges how rare it is.
    if email and personal:
        handles.add(mailbox_handle(email))
    keys.extend(
        Key(f"handle:{handle}", NAME_SCORE, "a login or mailbox that spells the name")
        for handle in sorted(handles)
        if len(handle) >= 6
    )
    if actor.is_bot:  # a separate namespace: bots link only to bots
        keys = [Key(f"bot|{k.value}", k.score, k.rule) for k in keys]
    return keys

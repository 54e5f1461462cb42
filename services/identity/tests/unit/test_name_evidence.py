"""Name links scored by evidence, checked on a synthetic population nothing was tuned on:
homonyms among common names must not merge on their own, distinctive names must."""

from __future__ import annotations

import random
from itertools import combinations

from sextant.contracts.events.common import Actor
from sextant.identity.domain.evidence import AliasFacts, NamePopulation, name_link
from sextant.identity.domain.keys import AUTO_MERGE_SCORE, keys_for
from sextant.identity.domain.resolver import Resolver

FIRST = [
    "David",
    "John",
    "Michael",
    "James",
    "Robert",
    "William",
    "Richard",
    "Thomas",
    "Daniel",
    "Paul",
    "Mark",
    "Peter",
    "Maria",
    "Anna",
    "Laura",
    "Sarah",
    "Emma",
    "Julia",
    "Linda",
    "Susan",
    "Karen",
    "Lisa",
    "Nancy",
    "Alice",
    "Wei",
    "Li",
    "Ahmed",
    "Rahul",
    "Priya",
    "Carlos",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Garcia",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Moore",
    "Martin",
    "Lee",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Kumar",
    "Singh",
    "Wang",
    "Chen",
]
SYLLABLES = "ka zu mer vol ith ran bex quo lin dor fey sab tor wyn gal pri"
FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "proton.me")


def coined(rng: random.Random, parts: int) -> str:
    words = SYLLABLES.split()
    return "".join(rng.choice(words) for _ in range(parts)).title()


def population(seed: int) -> tuple[list[Actor], list[int]]:
    """A tenant of 1,500 people with common names (homonyms galore) and 150 with coined
    ones; each has one to three aliases with unrelated addresses: a random handle at a
    freemail provider or at the person's own employer (no two people share one)."""
    rng = random.Random(seed)
    actors: list[Actor] = []
    person: list[int] = []
    for p in range(1650):
        if p < 1500:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        else:
            name = f"{coined(rng, 2)} {coined(rng, 3)}"
        for _ in range(rng.randint(1, 3)):
            handle = f"u{rng.randrange(10**9)}"
            host = rng.choice(FREEMAIL) if rng.random() < 0.6 else f"org{p}.io"
            actors.append(Actor(kind="generic", email=f"{handle}@{host}", display_name=name))
            person.append(p)
    return actors, person


def test_homonyms_among_common_names_are_not_merged_and_coined_names_are() -> None:
    for seed in (1, 2, 3):
        actors, person = population(seed)
        people = Resolver().resolve(actors)
        merged_strangers = sum(
            1
            for i, j in combinations(range(len(actors)), 2)
            if people[i] == people[j] and person[i] != person[j]
        )
        assert merged_strangers == 0
        distinctive = [i for i, p in enumerate(person) if p >= 1500]
        by_person: dict[int, set[int]] = {}
        for i in distinctive:
            by_person.setdefault(person[i], set()).add(people[i])
        assert all(len(found) == 1 for found in by_person.values())


def test_a_common_name_merges_with_a_shared_handle_or_small_domain() -> None:
    actors, _ = population(4)
    base = len(actors)
    actors += [
        Actor(kind="generic", email="dsmith77@gmail.com", display_name="David Smith"),
        Actor(kind="generic", email="dsmith77@org9.io", display_name="David Smith"),
        Actor(kind="generic", email="dave@tinyco.example.org", display_name="David Smith"),
        Actor(kind="generic", email="david.s@tinyco.example.org", display_name="David Smith"),
    ]
    people = Resolver().resolve(actors)
    assert people[base] == people[base + 1]  # same handle at two hosts
    assert people[base + 2] == people[base + 3]  # same rare organisation
    assert people[base] != people[base + 2]


def test_homonyms_at_the_tenants_main_employer_are_not_merged_by_its_domain() -> None:
    rng = random.Random(7)
    staff = [
        Actor(
            kind="generic",
            email=f"u{n}@bigcorp.example.com",
            display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        )
        for n in range(300)
    ]
    a = Actor(kind="generic", email="dsmith@bigcorp.example.com", display_name="David Smith")
    b = Actor(kind="generic", email="david.smith@bigcorp.example.com", display_name="David Smith")
    people = Resolver().resolve([*staff, a, b])
    assert people[-1] != people[-2]


def test_different_accounts_in_one_tool_keep_even_a_rare_name_apart() -> None:
    a = Actor(kind="github", account_id="1", login="ada-l", display_name="Ada Lovelace")
    b = Actor(kind="github", account_id="2", login="countess", display_name="Ada Lovelace")
    people = Resolver().resolve([a, b])
    assert people[0] != people[1]


def test_a_name_link_records_its_evidence_and_never_scores_like_an_identifier() -> None:
    a = Actor(kind="generic", email="ada@gmail.com", display_name="Ada Lovelace")
    b = Actor(kind="generic", email="ada@analytical.example.org", display_name="Ada Lovelace")
    [key] = [k for k in keys_for(a) if k.value == "name:ada lovelace"]
    pop = NamePopulation.of([("ada lovelace", None), ("grace hopper", None)])
    link = name_link(key, AliasFacts.of(a), AliasFacts.of(b), pop)
    assert AUTO_MERGE_SCORE <= link.score < 1.0
    assert any("others expected" in e for e in link.evidence)
    assert "same handle ada" in link.evidence


def test_a_single_word_that_other_names_carry_is_weak_and_a_coined_one_is_not() -> None:
    pop = NamePopulation.of(
        [("daniel", None), ("daniel craig", None), ("daniel day", None), ("zoj613", None)]
    )
    assert pop.expected_others("daniel") > 1
    assert pop.expected_others("zoj613") < 0.2

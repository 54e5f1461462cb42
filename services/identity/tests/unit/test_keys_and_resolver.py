"""What links two aliases, and what never does."""

from __future__ import annotations

import pytest

from sextant.contracts.events.common import Actor
from sextant.identity.domain.keys import (
    is_relay,
    is_shared_address,
    keys_for,
    normalize_name,
    unrelated_names,
)
from sextant.identity.domain.resolver import Resolver


def actor(**fields: object) -> Actor:
    return Actor.model_validate({"kind": "generic", **fields})


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Jérôme Richard", "jerome richard"),
        ("Richard, Jérôme", "jerome richard"),
        ("Jerome X. Richard", "jerome richard"),
        ("Derrick Stolee via GitGitGadget", "derrick stolee"),
        ("charris", "charris"),
        ("root", None),
        ("Al", None),
        ("", None),
    ],
)
def test_names_fold_case_accents_order_initials_and_relays(
    raw: str, normalized: str | None
) -> None:
    assert normalize_name(raw) == normalized


def test_github_noreply_addresses_link_to_the_account_and_login() -> None:
    values = {k.value for k in keys_for(actor(email="583231+Octocat@users.noreply.github.com"))}
    assert {"account:github:583231", "github-login:octocat"} <= values
    account = {
        k.value for k in keys_for(Actor(kind="github", account_id="583231", login="octocat"))
    }
    assert values & account


@pytest.mark.parametrize(
    "email", ["noreply@github.com", "gitgitgadget@gmail.com", "root@localhost", "ci-bot@corp.io"]
)
def test_relay_and_role_addresses_make_no_email_key(email: str) -> None:
    assert is_relay(email)
    assert not any(k.value.startswith("email:") for k in keys_for(actor(email=email)))


def test_a_bot_never_shares_a_key_with_a_human() -> None:
    human = {k.value for k in keys_for(Actor(kind="github", login="renovate", account_id="1"))}
    bot = {
        k.value
        for k in keys_for(Actor(kind="github", login="renovate", account_id="1", is_bot=True))
    }
    assert human and bot and not human & bot


def test_the_resolver_links_through_chains_and_keeps_strangers_apart() -> None:
    people = Resolver().resolve(
        [
            actor(email="ada@lovelace.example.org", display_name="Ada"),
            actor(email="ada@work.example.org", display_name="Ada Lovelace"),
            actor(email="ada@lovelace.example.org", display_name="Ada Lovelace"),  # the bridge
            actor(email="grace@hopper.example.org", display_name="Grace Hopper"),
        ]
    )
    assert people[0] == people[1] == people[2] != people[3]


def test_an_address_used_under_many_names_is_a_relay_and_merges_no_one() -> None:
    shared = [
        actor(email="team@corp.example.org", display_name=f"Person Number{i}") for i in "abcde"
    ]
    people = Resolver().resolve(shared)
    assert len(set(people)) == 5


def test_one_persons_spellings_count_once_toward_a_shared_address() -> None:
    spellings = ["matthew kraai", "matt kraai", "matthew james kraai", "matthewkraai"]
    assert unrelated_names(spellings) == [set(spellings)]
    assert not is_shared_address(spellings)
    # Two unrelated names are one person often enough (Lev Abalkin and Alexander Belopolsky
    # at one address in git): only four make an address shared.
    assert not is_shared_address(["lev abalkin", "alexander belopolsky", "lev abalkin"])
    assert not is_shared_address(["ann lee", "bob stone", "carl marx"])
    assert is_shared_address(["ann lee", "bob stone", "carl marx", "dora bell"])
    assert is_shared_address(["ann lee", "annie lee", "bob stone", "carl marx", "dora bell"])


def test_an_address_seen_under_one_persons_four_spellings_still_merges_them() -> None:
    people = Resolver().resolve(
        [
            actor(email="mk@kraai.example.org", display_name=name)
            for name in ("Matthew Kraai", "Matt Kraai", "Matthew James Kraai", "matthewkraai")
        ]
    )
    assert len(set(people)) == 1


def test_a_subaddress_is_the_same_mailbox() -> None:
    plain = {k.value for k in keys_for(actor(email="jaysoffian@gmail.com"))}
    tagged = {k.value for k in keys_for(actor(email="JaySoffian+git@gmail.com"))}
    assert "email:jaysoffian@gmail.com" in plain & tagged


@pytest.mark.parametrize(
    ("email", "name", "personal"),
    [
        ("git@srimukh.example", "Srimukh Sripada", True),  # a word of the name, 5+ letters
        ("git@srimukhsripada.example", "Srimukh Sripada", True),  # the whole name
        ("git@corp.example", "Srimukh Sripada", False),  # a role mailbox at a company
        ("git@srimukh.example", "postmalloc", False),  # nothing of the name in the domain
        ("dev@al.example", "Al Bo", False),  # too short to be a name's word
    ],
)
def test_a_role_word_at_the_persons_own_domain_is_their_address(
    email: str, name: str, personal: bool
) -> None:
    assert is_relay(email, normalize_name(name)) is not personal
    made = {k.value for k in keys_for(actor(email=email, display_name=name))}
    assert (f"email:{email}" in made) is personal


def test_a_mailbox_that_is_someones_login_links_the_two() -> None:
    people = Resolver().resolve(
        [
            actor(email="schnaitterm@knights.example.edu", display_name="Michael Schnaitter"),
            actor(email="schnaitterm@users.noreply.github.com", display_name="schnaitterm"),
            actor(email="grace@hopper.example.org", display_name="Grace Hopper"),
        ]
    )
    assert people[0] == people[1] != people[2]


def test_a_shared_mailbox_word_does_not_merge_two_surnames() -> None:
    resolver = Resolver()
    people = resolver.resolve(
        [
            actor(email="helloworld@sallings.example", display_name="Dustin Sallings"),
            actor(email="hello.world@spicuzza.example", display_name="Dustin Spicuzza"),
        ]
    )
    assert people[0] != people[1]
    assert [u.link.value for u in resolver.suggested] == ["handle:helloworld"]

"""Where a new alias goes (join, merge, suggest), what a split restores, and memberships
over time — the pure rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from sextant.contracts import uuid7
from sextant.contracts.events.common import Actor
from sextant.identity.domain.history import PastMerge, Span, first_overlap, restored_by_split
from sextant.identity.domain.keys import AUTO_MERGE_SCORE, Key, keys_for
from sextant.identity.domain.linking import (
    Holder,
    place,
    shared_links,
    splits_at_shared_address,
)
from sextant.identity.domain.resolver import Resolver

EMAIL = Key("email:ada@example.org", 1.0, "same email address")
NAME = Key("name:ada lovelace", 0.8, "same full name")
WEAK = Key("name:ada lovelace", 0.6, "same first and last name, middle names differ")


def holder(developer: UUID, *shared: Key, locked: bool = False) -> Holder:
    return Holder(developer, locked, shared)


def test_a_link_scores_the_weaker_of_its_two_sides() -> None:
    [link] = shared_links([NAME], [("name:ada lovelace", WEAK.score, WEAK.rule)])
    assert link == WEAK
    [link] = shared_links([WEAK], [("name:ada lovelace", NAME.score, NAME.rule)])
    assert link == WEAK
    assert shared_links([EMAIL], [("email:other@example.org", 1.0, EMAIL.rule)]) == ()


def test_an_alias_with_no_strong_link_starts_a_developer_and_the_weak_one_is_suggested() -> None:
    known = uuid7()
    placed = place([holder(known, WEAK)], kept_apart=set())
    assert placed.joins is None and placed.merged == ()
    [suggestion] = placed.suggestions
    assert suggestion.developer_id == known and suggestion.score < AUTO_MERGE_SCORE
    assert suggestion.evidence == ("name:ada lovelace",)


def test_strong_links_to_two_developers_merge_them_into_the_oldest() -> None:
    older, newer = uuid7(), uuid7()
    placed = place([holder(older, NAME), holder(newer, EMAIL)], kept_apart=set())
    assert placed.joins == older and placed.merged == (newer,)
    assert placed.rule == "same email address" and placed.score == 1.0
    assert placed.suggestions == ()


def test_a_locked_developer_is_never_merged_and_takes_new_aliases_only_by_identifier() -> None:
    locked, other = uuid7(), uuid7()
    by_name = place([holder(locked, NAME, locked=True)], kept_apart=set())
    assert by_name.joins is None and [s.developer_id for s in by_name.suggestions] == [locked]
    by_email = place([holder(locked, EMAIL, locked=True), holder(other, NAME)], kept_apart=set())
    assert by_email.joins == locked and by_email.merged == ()
    assert [s.developer_id for s in by_email.suggestions] == [other]


def test_a_pair_kept_apart_is_neither_merged_nor_suggested() -> None:
    a, b = uuid7(), uuid7()
    placed = place([holder(a, EMAIL), holder(b, NAME)], kept_apart={frozenset((a, b))})
    assert placed.joins == a and placed.merged == () and placed.suggestions == ()
    weak = place([holder(a, EMAIL), holder(b, WEAK)], kept_apart={frozenset((a, b))})
    assert weak.suggestions == ()


def test_a_pair_already_pending_is_not_suggested_twice() -> None:
    a, b = uuid7(), uuid7()
    placed = place([holder(a, EMAIL), holder(b, WEAK)], set(), pending={frozenset((a, b))})
    assert placed.joins == a and placed.suggestions == ()


def test_middle_names_make_a_link_too_weak_to_merge_on_its_own() -> None:
    middle = Actor(kind="generic", display_name="Ada Augusta Lovelace", email="a@one.example.org")
    plain = Actor(kind="generic", display_name="Ada Lovelace", email="b@two.example.org")
    weak = {k.value: k.score for k in keys_for(middle)}
    assert weak["name:ada lovelace"] < AUTO_MERGE_SCORE
    resolver = Resolver()
    people = resolver.resolve([middle, plain])
    assert people[0] != people[1]
    [suggested] = resolver.suggested
    assert suggested.link.score < AUTO_MERGE_SCORE


def test_a_split_restores_the_developer_a_merge_brought_in_with_exactly_those_aliases() -> None:
    merged, later = uuid7(), uuid7()
    a1, a2, a3 = uuid7(), uuid7(), uuid7()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    history = [
        PastMerge(merged, frozenset({a1, a2}), at, still_merged=True),
        PastMerge(later, frozenset({a3}), at, still_merged=False),  # revived already
    ]
    assert restored_by_split(history, [a2, a1]) == merged
    assert restored_by_split(history, [a1]) is None
    assert restored_by_split(history, [a3]) is None


def test_memberships_overlap_on_shared_days_with_open_ends() -> None:
    jan = Span(date(2026, 1, 1), date(2026, 1, 31))
    assert jan.covers(date(2026, 1, 31)) and not jan.covers(date(2026, 2, 1))
    existing = [(uuid7(), jan)]
    assert first_overlap(existing, Span(date(2026, 2, 1), None)) is None
    assert first_overlap(existing, Span(date(2026, 1, 31), None)) == existing[0][0]
    assert first_overlap(existing, Span(date(2025, 12, 1), date(2025, 12, 31))) is None
    ongoing = [(uuid7(), Span(date(2025, 6, 1), None))]
    assert first_overlap(ongoing, Span(date(2030, 1, 1), date(2030, 1, 2))) == ongoing[0][0]


def test_an_address_found_shared_suggests_moving_out_the_names_not_its_first() -> None:
    one, two, alone = UUID(int=1), UUID(int=2), UUID(int=3)
    ann, annie, bob, carl, dora, solo = (UUID(int=10 + i) for i in range(6))
    names = ["ann lee", "annie lee", "bob stone", "carl marx", "dora bell"]
    seen = [
        (ann, one, "ann lee"),
        (bob, one, "bob stone"),
        (annie, one, "annie lee"),  # Ann's own spelling: stays
        (carl, one, "carl marx"),
        (dora, two, "dora bell"),
        (solo, alone, None),
    ]
    [split] = splits_at_shared_address("email:family@home.example.org", seen, names)
    assert split.developer_id == one
    assert split.alias_ids == (bob, carl)
    assert split.evidence == (
        "email:family@home.example.org",
        "seen under 4 unrelated names: ann lee, annie lee, bob stone, carl marx, dora bell",
    )

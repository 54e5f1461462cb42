"""When a tenant's name links are due to be weighed again (worked examples)."""

import pytest

from sextant.identity.domain.revisits import revisit_due


@pytest.mark.parametrize(
    ("names_then", "names_now", "due"),
    [
        (0, 2, False),  # a new tenant's first two names: nothing to weigh them against
        (0, 99, False),  # 99 new names, one short of the minimum
        (0, 100, True),  # never revisited: 100 names are enough
        (302, 603, False),  # 301 new names, but 603 < 2 x 302
        (302, 604, True),  # doubled
        (60, 119, False),  # more than doubled, but only 59 new names
        (60, 160, True),
    ],
)
def test_a_tenant_is_due_once_its_names_doubled_and_grew_by_a_hundred(
    names_then: int, names_now: int, due: bool
) -> None:
    assert revisit_due(names_then, names_now, growth_factor=2.0, min_new_names=100) is due


def test_a_smaller_factor_revisits_sooner_a_larger_minimum_later() -> None:
    assert revisit_due(1000, 1100, growth_factor=1.1, min_new_names=100)
    assert not revisit_due(1000, 1099, growth_factor=1.1, min_new_names=100)
    assert not revisit_due(0, 150, growth_factor=2.0, min_new_names=200)

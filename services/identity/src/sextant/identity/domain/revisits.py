"""When a tenant's early name links are due to be weighed again."""

from __future__ import annotations


def revisit_due(names_then: int, names_now: int, growth_factor: float, min_new_names: int) -> bool:
    """Whether a tenant whose links were last weighed among ``names_then`` distinct names
    (0: never, its first links judged among none) is due again with ``names_now``.

    Its population must have grown by ``growth_factor`` (a name's expected namesakes grow
    with the population, so a link judged among half today's names may no longer hold;
    and revisits at each doubling cost, over a tenant's life, at most about twice its
    last one), and by at least ``min_new_names`` (a small tenant's links are weighed
    mostly against the evidence's background of 100 names, which does not move)."""
    grown = names_now - names_then
    return grown >= min_new_names and names_now >= growth_factor * names_then

"""The process's cache of alias → developer answers (attribution.KnownAliases)."""

from __future__ import annotations

from sextant.contracts import uuid7
from sextant.identity.attribution import KnownAliases


def test_an_answer_read_before_a_forget_is_not_cached_after_it() -> None:
    known = KnownAliases()
    tenant, old_owner = uuid7(), uuid7()
    generation = known.generation(tenant)  # a read of the old owner starts ...
    known.forget(tenant)  # ... a split moving the alias commits ...
    known.put(tenant, {"alias": old_owner}, generation)  # ... the read comes back
    assert known.get(tenant, "alias") is None
    known.put(tenant, {"alias": old_owner}, known.generation(tenant))
    assert known.get(tenant, "alias") == old_owner


def test_a_forget_drops_only_that_tenants_answers() -> None:
    known = KnownAliases()
    one, other, developer = uuid7(), uuid7(), uuid7()
    known.put(one, {"alias": developer}, known.generation(one))
    known.put(other, {"alias": developer}, known.generation(other))
    known.forget(one)
    assert known.get(one, "alias") is None
    assert known.get(other, "alias") == developer


def test_answers_expire() -> None:
    known = KnownAliases(ttl_seconds=-1.0)
    tenant = uuid7()
    known.put(tenant, {"alias": uuid7()}, known.generation(tenant))
    assert known.get(tenant, "alias") is None

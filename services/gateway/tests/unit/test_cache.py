"""The gateway's cache: what it believes stops at a drop, at once, and nothing is believed
while its replica may have missed a drop."""

from __future__ import annotations

from sextant.gateway.domain.cache import TtlCache


def test_an_entry_lives_its_seconds_then_is_gone() -> None:
    cache: TtlCache[str, int] = TtlCache(2.0)
    cache.put("key", 1, now=100.0)
    assert cache.get("key", now=102.0) == 1
    assert cache.get("key", now=102.1) is None


def test_a_lookup_begun_before_a_drop_is_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0)
    epoch = cache.epoch  # a lookup starts: it reads "live" from the database
    cache.forget_where(lambda key, _value: key == "k1")  # meanwhile k1 is revoked
    cache.put("k1", "live", now=0.0, epoch=epoch)  # its answer may be stale: not kept
    assert cache.get("k1", now=0.0) is None
    cache.put("k1", "live", now=0.0, epoch=cache.epoch)  # a lookup begun after: kept
    assert cache.get("k1", now=0.0) == "live"


def test_forget_where_drops_only_what_it_names() -> None:
    cache: TtlCache[tuple[str, str], str] = TtlCache(10.0)
    for tenant, scope in (("a", "workspace:1"), ("a", "view:2"), ("b", "workspace:3")):
        cache.put((tenant, scope), "workspaces", now=0.0)
    cache.forget_where(lambda key, _value: key[0] == "a")
    assert cache.get(("a", "workspace:1"), 0.0) is None and cache.get(("a", "view:2"), 0.0) is None
    assert cache.get(("b", "workspace:3"), 0.0) == "workspaces"


def test_an_untrusted_cache_reads_nothing_and_keeps_nothing() -> None:
    trusted = True
    cache: TtlCache[str, int] = TtlCache(10.0, trusted=lambda: trusted)
    cache.put("kept", 1, now=0.0)
    trusted = False  # the replica's listener went down
    assert cache.get("kept", now=0.0) is None
    cache.put("new", 2, now=0.0)
    trusted = True
    assert cache.get("new", now=0.0) is None
    assert cache.get("kept", now=0.0) == 1  # (the reset on reconnecting clears it)

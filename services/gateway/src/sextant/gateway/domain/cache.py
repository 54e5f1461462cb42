"""A small time-bounded cache: what the gateway may believe for a few seconds (a verified
API key, a live tenant, a resolved scope) without asking the database on every request.

A revocation or a soft delete does not wait for the lifetime: every replica drops the
entries it makes wrong as soon as it hears of it (:mod:`sextant.gateway.revocation`), and
a replica that may have missed a message trusts no entry (``trusted``) until it has
dropped them all. The lifetime is the last line, for a change no message announces."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def _always() -> bool:
    return True


class TtlCache(Generic[K, V]):
    """Entries live ``seconds``; beyond ``max_entries`` the oldest are dropped.

    While ``trusted()`` is False nothing is read or kept. Every drop advances ``epoch``:
    a value looked up from the database before a drop may already be wrong, so
    :meth:`put` given the epoch its lookup started in keeps it only if none came between."""

    def __init__(
        self, seconds: float, max_entries: int = 10_000, trusted: Callable[[], bool] = _always
    ) -> None:
        self.seconds, self.max_entries = seconds, max_entries
        self.trusted = trusted
        self.epoch = 0
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, now: float) -> V | None:
        if not self.trusted():
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry[0] > self.seconds:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, now: float, *, epoch: int | None = None) -> None:
        if not self.trusted() or (epoch is not None and epoch != self.epoch):
            return
        self._entries.pop(key, None)
        self._entries[key] = (now, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self.epoch += 1
        self._entries.pop(key, None)

    def forget_where(self, wrong: Callable[[K, V], bool]) -> None:
        """Drop every entry ``wrong`` says no longer holds."""
        self.epoch += 1
        for key in [k for k, (_, v) in self._entries.items() if wrong(k, v)]:
            del self._entries[key]

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()

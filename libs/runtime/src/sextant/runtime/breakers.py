"""A circuit breaker: closed, open after consecutive failures, half-open with one probe.

Shared by the gateway (per upstream and caller) and the services' own calls out (the
insights service's Gemini calls). It takes the clock as an argument, so it is tested
without sleeping.
"""

from __future__ import annotations


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; open answers at once for
    ``cooldown`` seconds; then half-open lets one call (the probe) through, whose outcome
    decides.

    Every call holds an :class:`Attempt` and ends it in a ``finally`` (or ``with``), so
    the probe slot is given back whatever the call does — crash, cancellation, a client
    that leaves. A probe that ends without a verdict leaves the breaker open with its
    cooldown over: the next call probes. A probe that holds the slot past
    ``probe_deadline`` seconds is presumed stuck, and the next call probes instead (the
    stuck one's verdict, if it ever comes, is ignored)."""

    def __init__(
        self, threshold: int = 5, cooldown: float = 10.0, probe_deadline: float = 45.0
    ) -> None:
        self.threshold, self.cooldown, self.probe_deadline = threshold, cooldown, probe_deadline
        self.failures = 0
        self.opened_at: float | None = None
        self._probe: int | None = None  # the current probe's number, while one is out
        self._probe_started = 0.0
        self._probes = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._probe is not None else "open"

    def attempt(self, now: float) -> Attempt | None:
        """An attempt to hold while calling, or None when calls are paused."""
        if self.opened_at is None:
            return Attempt(self, None)
        if now - self.opened_at < self.cooldown:
            return None
        if self._probe is not None and now - self._probe_started < self.probe_deadline:
            return None
        self._probes += 1
        self._probe, self._probe_started = self._probes, now
        return Attempt(self, self._probe)

    def retry_after(self, now: float) -> float:
        if self.opened_at is None:
            return 0.0
        if self._probe is not None:
            return 1.0  # a probe is out: its verdict is usually a moment away
        return max(0.0, self.cooldown - (now - self.opened_at))

    def _succeeded(self, probe: int | None) -> None:
        if probe is not None and probe != self._probe:
            return  # a probe given up as stuck
        self.failures, self.opened_at, self._probe = 0, None, None

    def _failed(self, probe: int | None, now: float) -> None:
        if probe is not None:
            if probe != self._probe:
                return
            self.opened_at, self._probe = now, None
            return
        self.failures += 1
        if self.failures >= self.threshold and self.opened_at is None:
            self.opened_at = now

    def _released(self, probe: int | None) -> None:
        if probe is not None and probe == self._probe:
            self._probe = None  # no verdict: the next call probes


class Attempt:
    """One call through a breaker: give it a verdict (:meth:`succeeded`, :meth:`failed`)
    or none, and always :meth:`release` it (``with`` does)."""

    def __init__(self, breaker: CircuitBreaker, probe: int | None) -> None:
        self._breaker, self._probe, self._done = breaker, probe, False

    @property
    def is_probe(self) -> bool:
        return self._probe is not None

    def succeeded(self) -> None:
        if not self._done:
            self._done = True
            self._breaker._succeeded(self._probe)

    def failed(self, now: float) -> None:
        if not self._done:
            self._done = True
            self._breaker._failed(self._probe, now)

    def release(self) -> None:
        """End the attempt; without a verdict, it counts for nothing."""
        if not self._done:
            self._done = True
            self._breaker._released(self._probe)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""Token buckets for rate limits, circuit breakers per (service, caller key), and the
pace an upload must keep. All take the clock as an argument, so they are tested without
sleeping."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets by key: ``rate`` tokens a second up to ``burst``; one request costs one.

    Held in memory per replica (:func:`replica_share` gives a replica its part of a
    gateway-wide limit); the least recently used keys are forgotten beyond ``max_keys``
    so a flood of new keys cannot grow memory."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: float) -> float:
        """0 when a request may go now, else the seconds until one may (Retry-After)."""
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` has a bucket (it was charged or taken lately)."""
        return key in self._buckets

    def charge(self, key: str, now: float) -> None:
        """Spend a token after the fact, even when none is left, down to ``-burst``: the
        failures of requests let through together (each checked with :meth:`wait`
        before the others failed) add up to a longer wait instead of vanishing."""
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.tokens = max(-self.burst, bucket.tokens - 1)
        bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def wait(self, key: str, now: float) -> float:
        """Like :meth:`take` but costs nothing: 0 when a token is there, else the seconds
        until one is. For limits charged after the fact (a failed authentication), checked
        before the work they protect."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


def replica_share(rate: float, burst: float, replicas: int) -> TokenBuckets:
    """This replica's buckets for a limit the whole gateway keeps: ``rate`` and ``burst``
    divided by the ``replicas`` the load balancer spreads callers over, so together they
    let through at most the configured limit. The burst is at least one request (a
    limit of fewer than one per replica is rounded up to one each)."""
    if replicas < 1:
        raise ValueError("replicas must be >= 1")
    return TokenBuckets(rate / replicas, max(1.0, burst / replicas))


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


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


class Breakers:
    """Circuit breakers by key — (service, tenant) or (service, webhook source) — so one
    caller's failures pause its own calls only. The least recently used keys are
    forgotten beyond ``max_keys``, so a flood of new keys cannot grow memory (a forgotten
    key starts closed, which costs at most ``threshold`` more failing calls)."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 10.0,
        probe_deadline: float = 45.0,
        max_keys: int = 100_000,
    ) -> None:
        self.threshold, self.cooldown, self.probe_deadline = threshold, cooldown, probe_deadline
        self.max_keys = max_keys
        self._breakers: OrderedDict[tuple[str, str], CircuitBreaker] = OrderedDict()

    def get(self, key: tuple[str, str]) -> CircuitBreaker:
        breaker = self._breakers.pop(key, None) or CircuitBreaker(
            self.threshold, self.cooldown, self.probe_deadline
        )
        self._breakers[key] = breaker
        if len(self._breakers) > self.max_keys:
            self._breakers.popitem(last=False)
        return breaker

    def state(self, key: tuple[str, str]) -> str:
        breaker = self._breakers.get(key)
        return "closed" if breaker is None else breaker.state


@dataclass(frozen=True)
class UploadPace:
    """How fast a request body must arrive: any pace for ``grace`` seconds, then on
    average at least ``min_bytes_per_second`` since the start. A slow-loris upload (a
    byte a second) is cut off after the grace; a large body on a slow link is not."""

    grace: float
    min_bytes_per_second: float

    def deadline(self, started: float, received: int) -> float:
        """When the body is too slow unless more than ``received`` bytes came by then."""
        return started + max(self.grace, received / self.min_bytes_per_second)

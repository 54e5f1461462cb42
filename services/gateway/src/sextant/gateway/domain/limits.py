"""Token buckets for rate limits, circuit breakers per (service, caller key), and the
pace an upload must keep. All take the clock as an argument, so they are tested without
sleeping."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

# the breaker moved to the runtime (the services call out too); re-exported here
from sextant.runtime.breakers import Attempt as Attempt
from sextant.runtime.breakers import CircuitBreaker as CircuitBreaker


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

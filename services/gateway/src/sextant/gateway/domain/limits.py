"""Token buckets for per-tenant and per-key rate limits, and a circuit breaker per
upstream. Both take the clock as an argument, so they are tested without sleeping."""

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

    Held in memory per replica (the limit is per replica); the least recently used keys
    are forgotten beyond ``max_keys`` so a flood of new keys cannot grow memory."""

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


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; open answers at once for
    ``cooldown`` seconds; then half-open lets one call through, whose outcome decides."""

    def __init__(self, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._probing else "open"

    def allow(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if now - self.opened_at >= self.cooldown and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.opened_at, self._probing = 0, None, False

    def failed(self, now: float) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            self.opened_at, self._probing = now, False

    def retry_after(self, now: float) -> float:
        return 0.0 if self.opened_at is None else max(0.0, self.cooldown - (now - self.opened_at))

"""When to try a failed outbound call again (webhook deliveries, check runs): exponential
backoff with full jitter, so callers that failed together are not all retried in the
same instant when the other side comes back. Pure: the draw is passed in."""

from __future__ import annotations


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float, unit: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): up to
    ``base * 2**(attempt-1)``, capped, times ``unit`` (a uniform draw in [0, 1))."""
    ceiling = min(cap_seconds, base_seconds * 2.0 ** (attempt - 1))
    return ceiling * unit

"""Telling infrastructure trouble (retry forever) from a bad event (count, then DLQ)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_TRANSIENT = (
    OSError,
    TimeoutError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    # A busy database, not a bad event: the pool had no connection free in time, or the
    # server none to give (53xxx: too many connections, out of memory, disk full).
    PoolTimeout,
    asyncpg.InsufficientResourcesError,
)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database or network is unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, InterfaceError | OperationalError):
            return True
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )
    return False

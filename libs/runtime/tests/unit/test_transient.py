"""Outages are retried forever; a bad event is counted towards the DLQ."""

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError

from sextant.runtime.transient import is_transient


def test_connection_failures_are_transient():
    assert is_transient(ConnectionRefusedError())
    assert is_transient(asyncpg.CannotConnectNowError("starting up"))
    wrapped = DBAPIError(
        "SELECT 1", {}, asyncpg.ConnectionDoesNotExistError("gone"), connection_invalidated=True
    )
    assert is_transient(wrapped)


def test_a_cause_chain_is_followed():
    try:
        try:
            raise OSError("reset")
        except OSError as inner:
            raise RuntimeError("handler failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_bad_data_is_not_transient():
    assert not is_transient(ValueError("bad payload"))
    assert not is_transient(KeyError("field"))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))

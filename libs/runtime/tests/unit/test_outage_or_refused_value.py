"""A 503 says a backing service is down; a value PostgreSQL, the driver or the C library
refused is no outage, however the exception is shaped (asyncpg's argument error is an
``InterfaceError``, ``datetime.fromtimestamp(1e17)`` an ``OSError``)."""

import errno
from datetime import UTC, datetime

import asyncpg
import asyncpg.exceptions
from sqlalchemy.exc import DBAPIError, InterfaceError

from sextant.runtime.errors import is_outage


def _fromtimestamp_error() -> OSError:
    try:
        datetime.fromtimestamp(1e17, UTC)
    except (OSError, ValueError, OverflowError) as exc:
        return exc if isinstance(exc, OSError) else OSError(errno.EOVERFLOW, str(exc))
    raise AssertionError("1e17 seconds is past year 9999")


def test_real_outages_are_outages() -> None:
    assert is_outage(ConnectionRefusedError())
    assert is_outage(TimeoutError())
    assert is_outage(asyncpg.CannotConnectNowError("starting up"))
    gone = asyncpg.ConnectionDoesNotExistError("gone")
    assert is_outage(DBAPIError("SELECT 1", {}, gone, connection_invalidated=True))


def test_a_query_argument_the_driver_cannot_encode_is_no_outage() -> None:
    # what asyncpg raises for 10**30 into an int or 12345 into a text column
    argument = asyncpg.exceptions._base.DataError("invalid input for query argument $6")
    assert not is_outage(argument)
    assert not is_outage(InterfaceError("INSERT", {}, argument))


def test_values_postgresql_refuses_are_no_outage() -> None:
    too_long = asyncpg.exceptions.ProgramLimitExceededError("index row size 3016 exceeds")
    assert not is_outage(InterfaceError("INSERT", {}, too_long))
    assert not is_outage(asyncpg.exceptions.NumericValueOutOfRangeError("out of range"))


def test_a_number_past_the_c_library_is_no_outage() -> None:
    assert not is_outage(OSError(errno.EOVERFLOW, "Value too large for defined data type"))
    assert not is_outage(_fromtimestamp_error())


def test_an_outage_met_while_handling_a_value_error_is_still_one() -> None:
    try:
        try:
            raise ValueError("an earlier, handled problem")
        except ValueError:
            raise ConnectionResetError("reset") from None
    except ConnectionResetError as exc:
        assert is_outage(exc)

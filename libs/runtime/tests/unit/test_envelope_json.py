"""The outbox writes envelopes with orjson; what it writes must be pydantic's JSON."""

import json
from datetime import UTC, datetime, timedelta, timezone

import asyncpg.pgproto.pgproto as pgproto
from hypothesis import given
from hypothesis import strategies as st

from sextant.contracts import Envelope, uuid7
from sextant.runtime.outbox import envelope_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    subject=st.none() | st.text(max_size=30),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ),
    with_workspace=st.booleans(),
)
def test_envelope_json_is_pydantics(data, subject, at, with_workspace):
    envelope = Envelope(
        source="/sextant/ingest",
        type="sextant.activity.work_item.created.v1",
        subject=subject,
        tenantid=pgproto.UUID(str(uuid7())),  # as read from the database
        workspaceid=uuid7() if with_workspace else None,
        time=at,
        data=data,
    )
    written = envelope_json(envelope)
    assert json.loads(written) == json.loads(envelope.model_dump_json())
    assert Envelope.model_validate_json(written) == envelope

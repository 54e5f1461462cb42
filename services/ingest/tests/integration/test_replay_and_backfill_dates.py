"""Replay and backfill refuse a moment they cannot store or compare with a 422 naming the
field (issue #25 item 7: year 1 at +01:00 or year 9999 at -14:00 answered 500), and answer
a range out to the edges of what they can."""

from __future__ import annotations

import pytest

from .conftest import Ingest

UNSTORABLE = [
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "0001-01-01T00:00:00Z",  # asyncpg's -infinity
    "9999-12-31T23:59:59.999999Z",  # asyncpg's infinity
]


@pytest.mark.parametrize("moment", UNSTORABLE)
async def test_a_replay_range_beyond_what_can_be_stored_is_refused_naming_its_end(
    ingest: Ingest, moment: str
) -> None:
    source = await ingest.source("github")
    admin = ingest.as_role("tenant_admin")
    for name, body in (
        ("from", {"from": moment, "to": "2030-01-01T00:00:00Z"}),
        ("to", {"from": "2000-01-01T00:00:00Z", "to": moment}),
    ):
        response = await ingest.client.post(
            f"/v1/sources/{source['id']}/replay", json=body, headers=admin
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert f"body.{name}" in response.json()["detail"]


async def test_a_replay_of_everything_that_can_be_stored_is_answered(ingest: Ingest) -> None:
    source = await ingest.source("github")
    response = await ingest.client.post(
        f"/v1/sources/{source['id']}/replay",
        json={"from": "0001-01-01T10:00:00-14:00", "to": "9999-12-31T00:00:00+14:00"},
        headers=ingest.as_role("tenant_admin"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["deliveries"] == 0 and response.json()["complete"] is True


@pytest.mark.parametrize("moment", UNSTORABLE)
async def test_a_backfill_start_beyond_what_can_be_stored_is_refused_naming_it(
    ingest: Ingest, moment: str
) -> None:
    # No credentials: were the moment accepted, the backfill stops at them (400), never
    # reaching out to a tool.
    source = await ingest.source("github")
    response = await ingest.client.post(
        f"/v1/sources/{source['id']}/backfill",
        json={"since": moment},
        headers=ingest.as_role("tenant_admin"),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "body.since" in response.json()["detail"]

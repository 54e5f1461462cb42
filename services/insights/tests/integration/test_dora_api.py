"""The DORA keys of the scenario's history (scenario.py), fed through the real consumer and
read back from the API, every number worked by hand here.

The week from Monday 2 March 2026 00:00 UTC (T0 = 09:00 that day):

- production deployments D1 09:30 (A), D2 16:00 (S1), D3 20:00 (r2'); staging is not
  counted. 3 deployments on 1 deployment day, in 1 week.
- changes shipped and counted: #1 by D2, first commit 10:58 (b1 pushed at 11:00 minus
  2 min): 5 h 2 min; #3 by D3, its listed commits r1, r2 never pushed, so from its opening
  at 17:00: 3 h; #2 is a bot's (left out unless include_bots); #0 was inherited by D1.
  Lead times [3 h, 5.0333 h]: median 4.01667 h, P85 3 + 0.85 * 2.0333 = 4.72833 h.
- the incident of service "checkout" blames S1, deployed by D2 of octo-org/octo-repo, so it
  is that repository's; opened 16:30, resolved 17:30. The last deployment of the repository
  at or before 16:30 is D2 (30 min before, within 7 days): CFR 1 / 3.
- restore under 2023/2024: D2 16:00 to 17:30 = 1.5 h; under 2021: 16:30 to 17:30 = 1 h.
- rework (2024): no deployment succeeded while the incident was open (D3 came at 20:00): 0 / 3.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sextant.runtime.testing.plugin import InternalKeys

from .scenario import Tenant
from .test_read_api import (
    OTHER_TENANT,
    SCOPE,
    TENANT,
    WORKSPACE,
    Running,
    inbox_count,
    publish,
    running,
    settled,
)

__all__ = ["running"]  # the fixture, imported to be reused

WEEK = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-09T00:00:00Z"}


@pytest.fixture
async def history(running: Running) -> AsyncIterator[Running]:
    """The whole scenario projected: main's pushes of #2 and #3 too."""
    before = await inbox_count(running.conn)
    second = Tenant(TENANT, WORKSPACE).second_phase()
    await publish(running.state, Tenant(TENANT, WORKSPACE), second)
    await settled(running.conn, before, len(second))
    running.second = second
    yield running


async def dora(running: Running, **params: Any) -> dict[str, Any]:
    reply = await running.client.get("/v1/metrics/dora", params={"scope": SCOPE, **WEEK, **params})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_the_keys_of_the_week_under_dora_2024(history: Running) -> None:
    body = await dora(history)

    assert (body["definition_id"], body["definition_version"]) == ("dora-2024", 1)
    assert body["scope"] == SCOPE
    assert (body["since"], body["until"]) == ("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z")
    assert body["attribution_window_days"] == 7
    assert body["deployment_frequency"] == {
        "deployments": 3,
        "deployment_days": 1,
        "weeks": 1,
        "median_deployment_days_per_week": 1,
        "p85_deployment_days_per_week": 1,
        "median_deployments_per_week": 3,
        "p85_deployments_per_week": 3,
        "band": "high",  # at least one deployment day a week, not five
    }
    lead = body["lead_time"]
    assert lead["count"] == 2
    assert lead["median_hours"] == pytest.approx(4 + 1 / 60)
    assert lead["p85_hours"] == pytest.approx(3 + 0.85 * (2 + 2 / 60))
    assert lead["band"] == "elite"  # under a day
    assert body["change_failure_rate"] == {
        "numerator": 1,
        "denominator": 3,
        "rate": pytest.approx(1 / 3),
        "band": "low",
    }
    assert body["time_to_restore"] == {
        "count": 1,
        "median_hours": 1.5,
        "p85_hours": 1.5,
        "band": "high",
        "measure": "deployment_succeeded",
        "unresolved": 0,
    }
    assert body["rework_rate"] == {"numerator": 0, "denominator": 3, "rate": 0, "band": None}
    assert (body["incidents"], body["incidents_attributed"]) == (1, 1)


async def test_dora_2021_measures_restore_from_the_incident_and_bands_by_2021(
    history: Running,
) -> None:
    body = await dora(history, definition="dora-2021")

    assert body["definition_id"] == "dora-2021"
    assert body["time_to_restore"]["median_hours"] == 1  # 16:30 to 17:30
    assert body["time_to_restore"]["measure"] == "incident_opened"
    assert body["lead_time"]["band"] == "high"  # 4 h is not under 2021's hour
    assert body["change_failure_rate"]["band"] == "low"  # over 30 %
    assert body["rework_rate"] is None


async def test_the_window_and_bots_are_the_callers_to_choose(history: Running) -> None:
    # 0.01 day = 14.4 min: the incident came 30 min after D2, so it belongs to none
    narrow = await dora(history, attribution_window_days="0.01")
    assert narrow["attribution_window_days"] == 0.01
    assert narrow["change_failure_rate"]["numerator"] == 0
    assert narrow["incidents_attributed"] == 0
    assert narrow["time_to_restore"]["count"] == 0
    assert narrow["time_to_restore"]["median_hours"] is None
    # the bot's #2 counts when asked: three lead times
    with_bots = await dora(history, include_bots="true")
    assert with_bots["include_bots"] is True
    assert with_bots["lead_time"]["count"] == 3
    # nothing deployed in the week before: no numbers, no bands
    empty = await dora(history, since="2026-02-23T00:00:00Z", until="2026-03-02T00:00:00Z")
    assert empty["deployment_frequency"]["deployments"] == 0
    assert empty["deployment_frequency"]["band"] is None
    assert empty["change_failure_rate"]["rate"] is None


async def test_the_keys_as_csv_one_row_each(history: Running) -> None:
    reply = await history.client.get(
        "/v1/metrics/dora",
        params={"scope": SCOPE, **WEEK},
        headers={"Accept": "text/csv"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    rows = {r["metric"]: r for r in csv.DictReader(io.StringIO(reply.text))}
    assert list(rows) == [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
        "rework_rate",
    ]
    assert (
        rows["change_failure_rate"]["numerator"],
        rows["change_failure_rate"]["denominator"],
    ) == (
        "1",
        "3",
    )
    assert rows["time_to_restore"]["median"] == "1.5"
    assert rows["lead_time"]["band"] == "elite"


async def test_the_definitions_are_stated_in_full(running: Running) -> None:
    reply = await running.client.get("/v1/metrics/definitions")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["default"] == "dora-2024"
    by_id = {d["id"]: d for d in body["definitions"]}
    assert list(by_id) == ["dora-2021", "dora-2023", "dora-2024"]
    assert by_id["dora-2021"]["lead_time_bands"][0] == {
        "band": "elite",
        "below": 1.0,
        "inclusive": False,
    }
    assert by_id["dora-2023"]["lead_time_bands"][0]["below"] == 24.0
    assert by_id["dora-2023"]["change_failure_rate_bands"][0] == {
        "band": "elite",
        "below": 0.05,
        "inclusive": True,
    }
    assert by_id["dora-2021"]["deployment_frequency_bands"][1] == {
        "band": "high",
        "at_least_deployment_days": 1,
        "bucket_days": 28,
    }
    assert by_id["dora-2024"]["rework_rate"] is not None
    assert by_id["dora-2023"]["rework_rate"] is None
    assert by_id["dora-2021"]["time_to_restore_measure"] == "incident_opened"
    assert by_id["dora-2024"]["default_attribution_window_days"] == 7


async def test_another_tenant_gets_nothing_of_it(
    history: Running, internal_keys: InternalKeys
) -> None:
    token = internal_keys.signer.mint(
        service="insights", subject="u2", role="tenant_admin", tenant_id=OTHER_TENANT
    )
    reply = await history.client.get(
        "/v1/metrics/dora",
        params={"scope": SCOPE, **WEEK},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["deployment_frequency"]["deployments"] == 0
    assert body["lead_time"]["count"] == 0
    assert body["incidents"] == 0


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"definition": "dora-2022"}, 422, "definition"),
        ({"since": "2026-03-09T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, 400, "since"),
        ({"since": "2020-01-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, 400, "since"),
        ({"since": "2026-03-02"}, 422, "since"),
        ({"attribution_window_days": "-1"}, 422, "attribution_window_days"),
        ({"attribution_window_days": "91"}, 422, "attribution_window_days"),
        ({"attribution_window_days": "NaN"}, 422, "attribution_window_days"),
        ({"include_bots": "maybe"}, 422, "include_bots"),
        ({"scope": "team:1"}, 400, "scope"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_parameter(
    running: Running, params: dict[str, str], status: int, named: str
) -> None:
    reply = await running.client.get("/v1/metrics/dora", params={"scope": SCOPE, **params})
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert named in reply.text


async def test_no_edge_moment_gets_a_server_error(running: Running) -> None:
    for params in (
        {"since": "0001-01-02T00:00:00Z", "until": "0001-01-03T00:00:00Z"},
        {"until": "0001-01-02T00:00:00Z"},
        {"since": "9999-12-30T00:00:00Z"},
        {"since": "9999-12-29T00:00:00Z", "until": "9999-12-30T00:00:00Z"},
    ):
        reply = await running.client.get("/v1/metrics/dora", params={"scope": SCOPE, **params})
        assert reply.status_code < 500, (params, reply.text)
